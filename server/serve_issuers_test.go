package server

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/wardtest"
)

// TestServeGatewayOnlyForeignIssuer: `ward serve` with the
// authorization server off, no top-level issuer or tls, and one entry in
// gateway.issuers starts (it used to be refused with "issuer:
// required"). The issuer's certificate is not trusted, so its tokens get
// 503, and the cause (the TLS verification failure) is in the log and on
// /readyz.
func TestServeGatewayOnlyForeignIssuer(t *testing.T) {
	idp := httptest.NewTLSServer(http.NotFoundHandler()) // a certificate nobody trusts
	defer idp.Close()
	dir := t.TempDir()
	gwAddr, admAddr := wardtest.FreeAddr(t), wardtest.FreeAddr(t)
	r := startServer(t, dir, fmt.Sprintf(`authorization_server: {enabled: false}
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
`, dir, gwAddr, admAddr, idp.URL))
	hc := &http.Client{Timeout: 10 * time.Second}
	r.waitFor(t, "/readyz answers", func() error { return getOK(hc, "http://"+admAddr+"/readyz") })
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
	if !strings.Contains(r.stderr.String(), "issuer unavailable") || !strings.Contains(r.stderr.String(), "certificate") {
		t.Errorf("log does not say why:\n%s", r.stderr.String())
	}
}
