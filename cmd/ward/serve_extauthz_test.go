package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/wardtest"
)

// TestServeExtAuthz: `ward serve` with gateway.ext_authz answers Envoy's
// Check on its own listener with the gateway's decision (no token: 401
// and the DPoP challenge), and returns cleanly when its context ends.
func TestServeExtAuthz(t *testing.T) {
	t.Setenv(config.EnvStoreDSN, "")
	t.Setenv(config.EnvKeyEncryptionKey, "")
	t.Setenv(config.EnvDPoPNonceSecret, "")
	old := debug.SetGCPercent(100) // serve tunes the GC; give it back
	debug.SetGCPercent(old)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	dir := t.TempDir()
	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	kekFile := filepath.Join(dir, "kek")
	if err := os.WriteFile(kekFile, []byte(base64.StdEncoding.EncodeToString(kek)), 0o600); err != nil {
		t.Fatal(err)
	}
	eaAddr := wardtest.FreeAddr(t)
	yaml := fmt.Sprintf(`issuer: https://as.example
listen: %s
behind_tls_proxy: {trusted_proxies: [127.0.0.1/32]}
data_dir: %q
keys: {kek_file: %q}
authorization_server: {enabled: false}
gateway:
  enabled: true
  listen: %s
  admin_listen: %s
  public_url: https://api.example
  routes:
    - name: orders
      path_prefix: /orders/
      upstream: http://127.0.0.1:1
      policy: [{action: allow, principals: ["client:app"]}]
  ext_authz:
    listen: %s
`, wardtest.FreeAddr(t), dir, kekFile, wardtest.FreeAddr(t), wardtest.FreeAddr(t), eaAddr)
	cfgFile := filepath.Join(dir, "ward.yaml")
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", cfgFile}, &stdout, &stderr) }()

	cc, err := grpc.NewClient("passthrough:///"+eaAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ea := authv3.NewAuthorizationClient(cc)
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "203.0.113.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Scheme: "https", Host: "api.example", Path: "/orders/1", Headers: map[string]string{":authority": "api.example"},
		}},
	}}
	var resp *authv3.CheckResponse
	deadline := time.Now().Add(30 * time.Second)
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err = ea.Check(cctx, req)
		ccancel()
		if err == nil {
			break
		}
		select {
		case c := <-done:
			t.Fatalf("serve exited with %d:\n%s", c, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ext_authz never answered: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	d := resp.GetDeniedResponse()
	if codes.Code(resp.GetStatus().GetCode()) != codes.Unauthenticated || d.GetStatus().GetCode() != 401 {
		t.Fatalf("%v", resp)
	}
	var challenge string
	for _, h := range d.GetHeaders() {
		if h.GetHeader().GetKey() == "www-authenticate" {
			challenge = h.GetHeader().GetValue()
		}
	}
	if !strings.HasPrefix(challenge, "DPoP ") {
		t.Errorf("challenge %q", challenge)
	}
	if !strings.Contains(stdout.String(), "ext_authz") {
		t.Errorf("the listener is not announced:\n%s", stdout.String())
	}
	cancel()
	select {
	case c := <-done:
		if c != 0 {
			t.Fatalf("serve returned %d after cancel:\n%s", c, stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
}
