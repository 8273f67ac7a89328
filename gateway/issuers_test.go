package gateway_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/demo"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/resource"
)

// foreignIDP is an identity provider with OIDC discovery, an RS256 JWKS
// and an RFC 7662 endpoint; every request is counted.
type foreignIDP struct {
	srv      *httptest.Server
	key      *rsa.PrivateKey
	hits     atomic.Int64
	jwksDown atomic.Bool
	intro    func(r *http.Request) (int, any)
}

func newForeignIDP(t *testing.T) *foreignIDP {
	p := &foreignIDP{}
	p.key, _ = rsa.GenerateKey(rand.Reader, 2048)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.srv.URL, "jwks_uri": p.srv.URL + "/keys", "introspection_endpoint": p.srv.URL + "/introspect"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		if p.jwksDown.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "r1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /introspect", func(w http.ResponseWriter, r *http.Request) {
		code, body := p.intro(r)
		if jwt, ok := body.(signedIntrospection); ok {
			w.Header().Set("Content-Type", resource.MediaTypeIntrospectionJWT)
			w.WriteHeader(code)
			_, _ = io.WriteString(w, string(jwt))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	})
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.hits.Add(1); mux.ServeHTTP(w, r) }))
	t.Cleanup(p.srv.Close)
	return p
}

// token is a Keycloak-shaped access token (typ JWT, azp, scope).
func (p *foreignIDP) token(t *testing.T, jkt string, over ...map[string]any) string {
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "r1"))
	c := map[string]any{"iss": p.srv.URL, "sub": "kc-user", "azp": "app", "typ": "Bearer", "aud": publicURL,
		"iat": testNow.Unix(), "exp": testNow.Add(5 * time.Minute).Unix(), "scope": "orders:read", "cnf": map[string]any{"jkt": jkt}}
	for _, o := range over {
		for k, v := range o {
			c[k] = v
		}
	}
	b, _ := json.Marshal(c)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// TestGatewayIssuers: gateway.issuers with Ward's own issuer and a
// Keycloak-shaped one (legacy-jwt, OIDC discovery, RS256). A route that
// accepts only Ward refuses Keycloak's token without any request to
// Keycloak; the Keycloak route accepts it with its DPoP proof.
func TestGatewayIssuers(t *testing.T) {
	kc := newForeignIDP(t)
	e := newEnv(t, func(c *config.Gateway) {
		c.Issuer = ""
		c.Issuers = []config.GatewayIssuer{
			{Name: "ward", Issuer: issuerURL},
			{Name: "keycloak", Issuer: kc.srv.URL, Discovery: "oidc", TokenAlgorithms: []string{"RS256"}, Profile: "legacy-jwt"},
		}
		c.Routes[0].Issuers = []string{"ward"}
		c.Routes = append(c.Routes, config.Route{Name: "kc", PathPrefix: "/kc/", Upstream: c.Routes[0].Upstream, Issuers: []string{"keycloak"},
			Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"client:app"}, Scopes: []string{"orders:read"}}}})
	})
	// newEnv's static keys serve the shorthand only: Ward's issuer here
	// is discovered, which the test does not need.
	tok := kc.token(t, e.signer.Thumbprint())
	if w := e.call("GET", "/orders/1", tok, nil); w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("Keycloak token on Ward's route: %d %s", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if n := kc.hits.Load(); n != 0 {
		t.Fatalf("%d requests to Keycloak for a route that does not accept it", n)
	}
	if w := e.call("GET", "/kc/1", tok, nil); w.Code != 200 {
		t.Fatalf("Keycloak token on its route: %d %s", w.Code, w.Body)
	}
	if h := <-e.seen; h.Get("X-Ward-Subject") != "kc-user" || h.Get("X-Ward-Client") != "app" {
		t.Errorf("identity upstream: %v", h)
	}
}

// TestGatewayIssuerUnavailable: when an issuer's keys cannot be fetched,
// the 503 is logged with its cause, once per 30 s, and /readyz shows it.
func TestGatewayIssuerUnavailable(t *testing.T) {
	kc := newForeignIDP(t)
	kc.jwksDown.Store(true)
	var logs bytes.Buffer
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.PublicURL = true, publicURL
	cfg.Issuers = []config.GatewayIssuer{{Name: "keycloak", Issuer: kc.srv.URL, Discovery: "oidc", TokenAlgorithms: []string{"RS256"}, Profile: "legacy-jwt"}}
	cfg.Routes = []config.Route{{Name: "kc", PathPrefix: "/kc/", Upstream: config.BuiltinDemo, Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"*"}}}}}
	gw, err := gateway.New(&cfg, gateway.Options{Clock: func() time.Time { return testNow }, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Upstreams: demo.Builtins()})
	if err != nil {
		t.Fatal(err)
	}
	ck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := dpop.NewSigner(ck, dpop.WithClock(func() time.Time { return testNow }))
	tok := kc.token(t, signer.Thumbprint())
	for range 3 {
		r := httptest.NewRequest("GET", publicURL+"/kc/x", nil)
		p, _ := signer.Proof("GET", publicURL+"/kc/x", dpop.WithAccessToken(tok))
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", p)
		w := httptest.NewRecorder()
		gw.Handler().ServeHTTP(w, r)
		if w.Code != 503 {
			t.Fatalf("keys down: %d", w.Code)
		}
	}
	if n := strings.Count(logs.String(), "issuer unavailable"); n != 1 || !strings.Contains(logs.String(), "status 502") {
		t.Errorf("cause logged %d times: %s", n, logs.String())
	}
	w := httptest.NewRecorder()
	gw.AdminHandler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if body := w.Body.String(); w.Code != 200 || !strings.Contains(body, "issuer keycloak ("+kc.srv.URL+"): error since") || !strings.Contains(body, "status 502") {
		t.Errorf("readyz %d:\n%s", w.Code, body)
	}
}

// TestGatewayIntrospectionPrivateKeyJWT: gateway.issuers[].introspection
// with private_key_jwt from a key file and the endpoint from the
// issuer's metadata.
func TestGatewayIntrospectionPrivateKeyJWT(t *testing.T) {
	kc := newForeignIDP(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	kc.intro = func(r *http.Request) (int, any) {
		jws, err := jose.ParseSignedCompact(r.PostFormValue("client_assertion"), []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			return 401, map[string]string{"error": "invalid_client"}
		}
		if _, err := jws.Verify(&key.PublicKey); err != nil {
			return 401, map[string]string{"error": "invalid_client"}
		}
		return 200, map[string]any{"active": true, "sub": "svc-user", "client_id": "svc", "aud": publicURL, "exp": testNow.Add(time.Hour).Unix()}
	}
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.PublicURL = true, publicURL
	cfg.Issuers = []config.GatewayIssuer{{Name: "kc", Issuer: kc.srv.URL, Discovery: "oidc",
		Introspection: config.IssuerIntrospection{ClientID: "gw", PrivateKeyFile: keyFile}}}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Header.Get("X-Ward-Subject")) }))
	defer up.Close()
	cfg.Routes = []config.Route{{Name: "r", PathPrefix: "/r/", Upstream: up.URL, AllowBearer: true, Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"client:svc"}}}}}
	gw, err := gateway.New(&cfg, gateway.Options{Clock: func() time.Time { return testNow }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", publicURL+"/r/x", nil)
	r.Header.Set("Authorization", "Bearer opaque-token-1")
	w := httptest.NewRecorder()
	gw.Handler().ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != "svc-user" {
		t.Fatalf("introspected token: %d %s", w.Code, w.Body)
	}
}

// signedIntrospection is an RFC 9701 JWT answer of foreignIDP.intro.
type signedIntrospection string

// introspectionJWT signs an RFC 9701 response for aud.
func (p *foreignIDP) introspectionJWT(t *testing.T, aud string, ti map[string]any) signedIntrospection {
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key},
		(&jose.SignerOptions{}).WithType("token-introspection+jwt").WithHeader("kid", "r1"))
	b, _ := json.Marshal(map[string]any{"iss": p.srv.URL, "aud": aud, "iat": testNow.Unix(), "token_introspection": ti})
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return signedIntrospection(out)
}

// TestGatewayIntrospectionSignedResponse:
// gateway.issuers[].introspection.signed_response asks for the RFC 9701
// JWT (Accept) and admits a token on the signed answer only; a plain
// JSON answer, or one signed for another client, is an introspection
// failure (503), never an admission.
func TestGatewayIntrospectionSignedResponse(t *testing.T) {
	kc := newForeignIDP(t)
	active := map[string]any{"active": true, "sub": "svc-user", "client_id": "svc", "aud": publicURL, "exp": testNow.Add(time.Hour).Unix()}
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.PublicURL = true, publicURL
	cfg.Issuers = []config.GatewayIssuer{{Name: "kc", Issuer: kc.srv.URL, Discovery: "oidc", TokenAlgorithms: []string{"RS256"},
		Introspection: config.IssuerIntrospection{ClientID: "gw", ClientSecretFile: writeSecret(t), SignedResponse: true}}}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Header.Get("X-Ward-Subject")) }))
	defer up.Close()
	cfg.Routes = []config.Route{{Name: "r", PathPrefix: "/r/", Upstream: up.URL, AllowBearer: true, Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"client:svc"}}}}}
	gw, err := gateway.New(&cfg, gateway.Options{Clock: func() time.Time { return testNow }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		name   string
		answer func(r *http.Request) any
		status int
	}{
		{"signed for the gateway", func(r *http.Request) any {
			if r.Header.Get("Accept") != resource.MediaTypeIntrospectionJWT {
				return map[string]any{"active": false}
			}
			return kc.introspectionJWT(t, "gw", active)
		}, 200},
		{"plain JSON", func(*http.Request) any { return active }, 503},
		{"signed for another client", func(*http.Request) any { return kc.introspectionJWT(t, "other", active) }, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc.intro = func(r *http.Request) (int, any) { return 200, tc.answer(r) }
			r := httptest.NewRequest("GET", publicURL+"/r/x", nil)
			r.Header.Set("Authorization", fmt.Sprintf("Bearer opaque-token-signed-%d", i))
			w := httptest.NewRecorder()
			gw.Handler().ServeHTTP(w, r)
			if w.Code != tc.status || tc.status == 200 && w.Body.String() != "svc-user" {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.status)
			}
		})
	}
}

// writeSecret writes a client secret file.
func writeSecret(t *testing.T) string {
	f := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(f, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestGatewayIssuersNeedRestart: gateway.issuers hold key caches and
// introspectors built once; a reload that changes them is refused and
// the running registry is kept.
func TestGatewayIssuersNeedRestart(t *testing.T) {
	kc := newForeignIDP(t)
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.PublicURL = true, publicURL
	cfg.Issuers = []config.GatewayIssuer{{Name: "kc", Issuer: kc.srv.URL, Discovery: "oidc", TokenAlgorithms: []string{"RS256"}, Profile: "legacy-jwt"}}
	cfg.Routes = []config.Route{{Name: "kc", PathPrefix: "/kc/", Upstream: config.BuiltinDemo, Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"*"}}}}}
	gw, err := gateway.New(&cfg, gateway.Options{Clock: func() time.Time { return testNow }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Upstreams: demo.Builtins()})
	if err != nil {
		t.Fatal(err)
	}
	next := cfg
	next.Issuers = append([]config.GatewayIssuer{}, cfg.Issuers...)
	next.Issuers[0].Profile = "rfc9068"
	if err := gw.Reload(&next); err == nil {
		t.Fatal("reload changing gateway.issuers accepted")
	}
	same := cfg
	same.Routes = append([]config.Route{}, cfg.Routes...)
	same.Routes[0].Issuers = []string{"kc"}
	if err := gw.Reload(&same); err != nil {
		t.Fatalf("reload of routes: %v", err)
	}
	if st := gw.IssuerStatus(); len(st) != 1 || st[0].Name != "kc" {
		t.Errorf("issuers after reload: %+v", st)
	}
}

// TestGatewayIssuerAudience: gateway.issuers[].audience applies to the
// issuer's tokens on routes without their own audience.
func TestGatewayIssuerAudience(t *testing.T) {
	kc := newForeignIDP(t)
	e := newEnv(t, func(c *config.Gateway) {
		c.Issuer = ""
		c.Issuers = []config.GatewayIssuer{{Name: "kc", Issuer: kc.srv.URL, Discovery: "oidc", TokenAlgorithms: []string{"RS256"},
			Profile: "legacy-jwt", Audience: "api://orders"}}
		c.Routes = append(c.Routes, config.Route{Name: "kc", PathPrefix: "/kc/", Upstream: c.Routes[0].Upstream,
			Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"*"}}}})
	})
	tok := kc.token(t, e.signer.Thumbprint()) // aud: the gateway's public URL
	if w := e.call("GET", "/kc/1", tok, nil); w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("token for the default audience of an issuer with its own: %d", w.Code)
	}
	if w := e.call("GET", "/kc/1", kc.token(t, e.signer.Thumbprint(), map[string]any{"aud": "api://orders"}), nil); w.Code != 200 {
		t.Fatalf("token for the issuer's audience: %d %s", w.Code, w.Body)
	}
}

// TestGatewayPolicyIssuers: two providers each have a client "app"; a
// rule allowing client:app of the first does not let the second's in.
func TestGatewayPolicyIssuers(t *testing.T) {
	one, two := newForeignIDP(t), newForeignIDP(t)
	e := newEnv(t, func(c *config.Gateway) {
		c.Issuer = ""
		c.Issuers = []config.GatewayIssuer{
			{Name: "one", Issuer: one.srv.URL, Discovery: "oidc", TokenAlgorithms: []string{"RS256"}, Profile: "legacy-jwt"},
			{Name: "two", Issuer: two.srv.URL, Discovery: "oidc", TokenAlgorithms: []string{"RS256"}, Profile: "legacy-jwt"},
		}
		c.Routes = []config.Route{{Name: "api", PathPrefix: "/api/", Upstream: c.Routes[0].Upstream,
			Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"client:app"}, Issuers: []string{"one"}}}}}
	})
	if w := e.call("GET", "/api/x", two.token(t, e.signer.Thumbprint()), nil); w.Code != 403 {
		t.Fatalf("client app of the other issuer: %d", w.Code)
	}
	if w := e.call("GET", "/api/x", one.token(t, e.signer.Thumbprint()), nil); w.Code != 200 {
		t.Fatalf("client app of the named issuer: %d %s", w.Code, w.Body)
	}
}
