package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/wardtest"
)

// TestServeCommand: `ward serve --config FILE` opens what the file
// configures (package server), prints where it listens, serves until its
// context ends and then exits 0. What is served is tested in package
// server; this is the command's wiring.
func TestServeCommand(t *testing.T) {
	t.Setenv(config.EnvStoreDSN, "")
	t.Setenv(config.EnvKeyEncryptionKey, "")
	t.Setenv(config.EnvDPoPNonceSecret, "")
	old := debug.SetGCPercent(100) // serve tunes the GC; give it back
	debug.SetGCPercent(old)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	dir := t.TempDir()
	gw, admin := wardtest.FreeAddr(t), wardtest.FreeAddr(t)
	cfgFile := filepath.Join(dir, "ward.yaml")
	yaml := fmt.Sprintf(`issuer: https://as.example
behind_tls_proxy: {trusted_proxies: [10.0.0.0/8]}
data_dir: %q
authorization_server: {enabled: false}
gateway:
  enabled: true
  listen: %s
  admin_listen: %s
  public_url: https://api.example
  routes:
    - {name: open, path_prefix: /open/, upstream: builtin:demo, unauthenticated: true}
`, dir, gw, admin)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr wardtest.SyncBuffer
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"serve", "--config", cfgFile, "--log-json"}, &stdout, &stderr) }()
	if err := wardtest.WaitOK(&http.Client{Timeout: 5 * time.Second}, "http://"+admin+"/readyz"); err != nil {
		cancel()
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "ward: gateway https://api.example (listening on "+gw+")") {
		t.Errorf("stdout: %s", stdout.String())
	}
	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("exit %d after cancel:\n%s", code, stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
	if !strings.Contains(stderr.String(), `"msg":"shutting down: draining in-flight requests"`) {
		t.Errorf("--log-json: %s", stderr.String())
	}
}
