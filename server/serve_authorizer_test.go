package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/wardtest"
)

// TestServeAuthorizerListener: `ward serve` with gateway.authorizer.listen
// serves the forward-auth endpoint on its own address and prints it.
func TestServeAuthorizerListener(t *testing.T) {
	dir := t.TempDir()
	gw, admin, authz := wardtest.FreeAddr(t), wardtest.FreeAddr(t), wardtest.FreeAddr(t)
	r := startServer(t, dir, fmt.Sprintf(`issuer: https://as.example
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
`, dir, gw, admin, authz))
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
	r.waitFor(t, "the endpoint answers", func() error {
		code, err := check("/open/x")
		if err == nil && code != 200 {
			t.Fatalf("public route: %d", code)
		}
		return err
	})
	if code, err := check("/elsewhere"); err != nil || code != 404 {
		t.Fatalf("no route: %d %v", code, err)
	}
	if !strings.Contains(r.stdout.String(), "forward-auth endpoint on http://"+authz+"/_ward/authorize") {
		t.Errorf("stdout: %s", r.stdout.String())
	}
}
