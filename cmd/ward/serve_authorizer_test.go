package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
)

// freeAddr is a free loopback address: taken, then released for serve.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeAuthorizerListener: `ward serve` with gateway.authorizer.listen
// serves the forward-auth endpoint on its own address and prints it.
func TestServeAuthorizerListener(t *testing.T) {
	t.Setenv(config.EnvStoreDSN, "")
	t.Setenv(config.EnvKeyEncryptionKey, "")
	t.Setenv(config.EnvDPoPNonceSecret, "")
	old := debug.SetGCPercent(100)
	debug.SetGCPercent(old)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	dir := t.TempDir()
	gw, admin, authz := freeAddr(t), freeAddr(t), freeAddr(t)
	yaml := fmt.Sprintf(`issuer: https://as.example
behind_tls_proxy: {trusted_proxies: [10.0.0.0/8]}
data_dir: %q
authorization_server: {enabled: false}
gateway:
  enabled: true
  listen: %s
  admin_listen: %s
  public_url: https://api.example
  authorizer: {listen: %s, trusted_proxies: [127.0.0.1/32]}
  routes:
    - {name: open, path_prefix: /open/, upstream: builtin:demo, unauthenticated: true}
`, dir, gw, admin, authz)
	cfgFile := filepath.Join(dir, "ward.yaml")
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"serve", "--config", cfgFile}, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
		}
	})
	check := func(uri string) (int, error) {
		req, _ := http.NewRequest("GET", "http://"+authz+"/_ward/authorize", nil)
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-URI", uri)
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "api.example")
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, err := check("/open/x")
		if err == nil {
			if code != 200 {
				t.Fatalf("public route: %d", code)
			}
			break
		}
		select {
		case c := <-exited:
			t.Fatalf("serve exited %d: %s %s", c, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the endpoint does not answer: %v; %s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, err := check("/elsewhere"); err != nil || code != 404 {
		t.Fatalf("no route: %d %v", code, err)
	}
	if !strings.Contains(stdout.String(), "forward-auth endpoint on http://"+authz+"/_ward/authorize") {
		t.Errorf("stdout: %s", stdout.String())
	}
}
