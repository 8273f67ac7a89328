package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/wardtest"
)

// TestServeGatewayOnlyForeignIssuer: `ward serve` with the
// authorization server off, no top-level issuer or tls, and one entry in
// gateway.issuers starts (it used to be refused with "issuer:
// required"). The issuer's certificate is not trusted, so its tokens get
// 503, and the cause (the TLS verification failure) is in the log and on
// /readyz.
func TestServeGatewayOnlyForeignIssuer(t *testing.T) {
	t.Setenv(config.EnvStoreDSN, "")
	t.Setenv(config.EnvKeyEncryptionKey, "")
	t.Setenv(config.EnvDPoPNonceSecret, "")
	old := debug.SetGCPercent(100)
	debug.SetGCPercent(old)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	idp := httptest.NewTLSServer(http.NotFoundHandler()) // a certificate nobody trusts
	defer idp.Close()
	dir := t.TempDir()
	gwAddr, admAddr := wardtest.FreeAddr(t), wardtest.FreeAddr(t)
	cfgFile := filepath.Join(dir, "ward.yaml")
	yaml := fmt.Sprintf(`authorization_server: {enabled: false}
data_dir: %q
gateway:
  enabled: true
  listen: %s
  admin_listen: %s
  public_url: https://api.example
  issuers:
    - name: idp
      issuer: %s
      discovery: oidc
      token_algorithms: [RS256]
      profile: legacy-jwt
  routes:
    - name: api
      path_prefix: /api/
      upstream: builtin:demo
      allow_bearer: true
      policy: [{action: allow, principals: ["*"]}]
`, dir, gwAddr, admAddr, idp.URL)
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
	hc := &http.Client{Timeout: 10 * time.Second}
	if err := wardtest.WaitOK(hc, "http://"+admAddr+"/readyz"); err != nil {
		select {
		case code := <-exited:
			t.Fatalf("ward serve exited %d: %s", code, stderr.String())
		default:
		}
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	b64 := base64.RawURLEncoding.EncodeToString
	tok := b64([]byte(`{"alg":"RS256","typ":"JWT","kid":"k"}`)) + "." + b64([]byte(`{"iss":"`+idp.URL+`","sub":"u","aud":"https://api.example","exp":9999999999}`)) + ".c2ln"
	req, _ := http.NewRequest("GET", "http://"+gwAddr+"/api/x", nil)
	req.Host = "api.example" // public_url's host: the gateway refuses others
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("token of an issuer whose keys cannot be fetched: %d", resp.StatusCode)
	}
	resp, err = hc.Get("http://" + admAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "issuer idp ("+idp.URL+"): error since") || !strings.Contains(string(body), "certificate") {
		t.Errorf("readyz:\n%s", body)
	}
	if !strings.Contains(stderr.String(), "issuer unavailable") || !strings.Contains(stderr.String(), "certificate") {
		t.Errorf("log does not say why:\n%s", stderr.String())
	}
}
