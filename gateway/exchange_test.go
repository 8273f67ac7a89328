package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/resource"
)

const exchangeAud = "https://inventory.internal"

// exchangeEnv is a gateway whose route /svc/ exchanges the caller's token
// at a token endpoint (which answers like Ward's token exchange grant) for
// one aimed at exchangeAud, and an upstream that accepts only such a token
// with the gateway's DPoP proof.
type exchangeEnv struct {
	*env
	calls    atomic.Int32 // token endpoint requests
	fail     atomic.Int32 // the token endpoint's answer status, 0: 200
	mu       sync.Mutex
	forms    []url.Values
	upstream []string // what the upstream decided: "ok sub" or the refusal
	headers  []http.Header
}

func newExchangeEnv(t *testing.T) *exchangeEnv {
	t.Helper()
	x := &exchangeEnv{}
	gwKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	assertKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clock := func() time.Time { return testNow }
	gwSigner, _ := dpop.NewSigner(gwKey, dpop.WithClock(clock))
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x.calls.Add(1)
		_ = r.ParseForm()
		x.mu.Lock()
		x.forms = append(x.forms, r.PostForm)
		x.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if st := x.fail.Load(); st != 0 {
			w.WriteHeader(int(st))
			_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
			return
		}
		tok := x.token(map[string]any{"aud": exchangeAud, "client_id": "gateway", "jti": r.PostForm.Get("subject_token")[len(r.PostForm.Get("subject_token"))-8:],
			"act": map[string]any{"sub": "gateway"}, "cnf": map[string]any{"jkt": gwSigner.Thumbprint()}})
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "DPoP", "expires_in": 300,
			"issued_token_type": oauth.TokenTypeAccessToken})
	}))
	t.Cleanup(as.Close)
	c, err := client.New(client.Endpoint{Issuer: issuerURL, TokenURL: as.URL + "/token"}, "gateway",
		client.WithKey(gwKey), client.WithPrivateKeyJWT(assertKey, "gw1"), client.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := gateway.NewClientExchanger(c, gwSigner)
	if err != nil {
		t.Fatal(err)
	}
	var rs *resource.Resource
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := rs.Authenticate(r, resource.Requirement{})
		x.mu.Lock()
		x.headers = append(x.headers, r.Header.Clone())
		if err != nil {
			x.upstream = append(x.upstream, err.Error())
		} else {
			x.upstream = append(x.upstream, "ok "+id.Subject)
		}
		x.mu.Unlock()
	}))
	t.Cleanup(up.Close)
	x.env = newEnvWith(t, func(g *config.Gateway) {
		g.Routes = append(g.Routes, config.Route{Name: "svc", PathPrefix: "/svc/", Upstream: up.URL,
			Exchange: &config.RouteExchange{Audience: exchangeAud, Scope: "orders:read"},
			Policy:   []config.PolicyRule{{Action: "allow", Principals: []string{"*"}}}})
	}, func(o *gateway.Options) { o.TokenExchanger = ex })
	v, err := dpop.NewVerifier(dpop.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	rs, err = resource.New(resource.Config{Issuer: issuerURL, Audience: exchangeAud, DPoP: v, Clock: clock,
		Keys: resource.StaticKeys{Keys: []jose.JSONWebKey{{Key: &x.key.PublicKey, KeyID: "k1", Algorithm: "ES256"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestGatewayTokenExchange: on a route with exchange, the upstream
// receives a token aimed at its audience with a fresh proof of the
// gateway's key, and never the caller's token or proof; a second request
// with the same caller token is served from the cache.
func TestGatewayTokenExchange(t *testing.T) {
	x := newExchangeEnv(t)
	caller := x.token(map[string]any{"jti": "caller-token-1"})
	for i := range 2 {
		if w := x.call("GET", "/svc/items", caller, nil); w.Code != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, w.Code, w.Body)
		}
	}
	if n := x.calls.Load(); n != 1 {
		t.Fatalf("%d token exchanges for two requests with one token, want 1 (cached)", n)
	}
	f := x.forms[0]
	if f.Get("grant_type") != string(oauth.GrantTokenExchange) || f.Get("subject_token") != caller || f.Get("resource") != exchangeAud ||
		f.Get("scope") != "orders:read" || f.Get("client_assertion_type") != oauth.ClientAssertionJWTBearer || f.Get("client_id") != "gateway" {
		t.Fatalf("exchange request %v", f)
	}
	if len(x.upstream) != 2 || x.upstream[0] != "ok alice" || x.upstream[1] != "ok alice" {
		t.Fatalf("upstream decisions %q", x.upstream)
	}
	for _, h := range x.headers {
		for k, vs := range h {
			for _, v := range vs {
				if strings.Contains(v, caller) {
					t.Fatalf("the upstream saw the caller's token in %s", k)
				}
			}
		}
	}
	if x.headers[0].Get("DPoP") == "" || x.headers[0].Get("DPoP") == x.headers[1].Get("DPoP") {
		t.Fatal("the gateway sent no proof, or reused one")
	}
	// Another caller token: another exchange.
	if w := x.call("GET", "/svc/items", x.token(map[string]any{"jti": "caller-token-2"}), nil); w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if n := x.calls.Load(); n != 2 {
		t.Fatalf("%d token exchanges, want 2", n)
	}
}

// TestGatewayTokenExchangeFailure: a refused exchange is 502, an
// authorization server failing is 503; the upstream is never called, so
// the caller's token is never forwarded instead.
func TestGatewayTokenExchangeFailure(t *testing.T) {
	x := newExchangeEnv(t)
	for _, tc := range []struct{ as, want int }{{http.StatusBadRequest, http.StatusBadGateway}, {http.StatusInternalServerError, http.StatusServiceUnavailable}} {
		x.fail.Store(int32(tc.as))
		w := x.call("GET", "/svc/items", x.token(map[string]any{"jti": "caller-token-" + http.StatusText(tc.as)[:3]}), nil)
		if w.Code != tc.want || !strings.Contains(w.Body.String(), "token_exchange_failed") {
			t.Fatalf("token endpoint %d: gateway %d %s, want %d", tc.as, w.Code, w.Body, tc.want)
		}
	}
	if len(x.upstream) != 0 {
		t.Fatalf("the upstream was called: %q", x.upstream)
	}
}

// TestGatewayTokenExchangeFromConfig: gateway.token_exchange makes the
// gateway a private_key_jwt client of the token endpoint, its assertions
// signed with private_key_file for that endpoint, its exchanged tokens
// bound to a DPoP key of its own.
func TestGatewayTokenExchangeFromConfig(t *testing.T) {
	ak, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ak)
	keyFile := filepath.Join(t.TempDir(), "gw.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	var e *env
	var asURL string
	var checked atomic.Bool
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		tok, err := jwt.ParseSigned(r.PostForm.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256})
		var cl jwt.Claims
		if err != nil || tok.Claims(&ak.PublicKey, &cl) != nil || cl.Issuer != "gw" || !cl.Audience.Contains(asURL+"/token") || r.Header.Get("DPoP") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		checked.Store(true)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": e.token(map[string]any{"aud": exchangeAud}), "token_type": "DPoP",
			"expires_in": 300, "issued_token_type": oauth.TokenTypeAccessToken})
	}))
	t.Cleanup(as.Close)
	asURL = as.URL
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(up.Close)
	e = newEnv(t, func(g *config.Gateway) {
		g.TokenExchange = config.GatewayTokenExchange{ClientID: "gw", PrivateKeyFile: keyFile, TokenEndpoint: as.URL + "/token"}
		g.Routes = append(g.Routes, config.Route{Name: "svc", PathPrefix: "/svc/", Upstream: up.URL,
			Exchange: &config.RouteExchange{Audience: exchangeAud},
			Policy:   []config.PolicyRule{{Action: "allow", Principals: []string{"*"}}}})
	})
	if w := e.call("GET", "/svc/items", e.token(nil), nil); w.Code != http.StatusOK || !checked.Load() {
		t.Fatalf("%d %s (assertion checked: %v)", w.Code, w.Body, checked.Load())
	}
}

// TestGatewayTokenExchangeNotAtFrontDoors: Decide (forward auth, ext_authz)
// refuses a route with exchange, since the proxy there would forward the
// caller's token to the upstream.
func TestGatewayTokenExchangeNotAtFrontDoors(t *testing.T) {
	x := newExchangeEnv(t)
	tok := x.token(map[string]any{"jti": "caller-front-door"})
	r := httptest.NewRequest(http.MethodGet, publicURL+"/svc/items", nil)
	p, _ := x.signer.Proof(http.MethodGet, publicURL+"/svc/items", dpop.WithAccessToken(tok))
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", p)
	if d := x.gw.Decide(r); d.Allowed || d.Status != http.StatusServiceUnavailable {
		t.Fatalf("Decide allowed %v, status %d: want a 503 refusal", d.Allowed, d.Status)
	}
	if x.calls.Load() != 0 {
		t.Fatal("Decide exchanged a token")
	}
}

// TestGatewayExchangeRefusesCertificateRoute: a certificate-only route
// verifies no token, so exchange there would send the Authorization
// header unverified — a stolen DPoP-bound token, without its holder's
// proof — to the token endpoint and get it back bound to the gateway's
// key. Both the configuration check and New refuse the combination.
func TestGatewayExchangeRefusesCertificateRoute(t *testing.T) {
	ca := mtlstest.NewCA(t)
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.Issuer, cfg.PublicURL = true, issuerURL, publicURL
	cfg.TokenExchange.ClientID, cfg.TokenExchange.PrivateKeyFile = "gateway", "/gw.pem"
	cfg.MTLS.ClientCAFiles = []string{ca.WriteFile(t, t.TempDir())}
	cfg.MTLS.CertificateRoutes = []string{"svc"}
	cfg.Routes = []config.Route{{Name: "svc", PathPrefix: "/svc/", Upstream: "http://127.0.0.1:1",
		Exchange: &config.RouteExchange{Audience: exchangeAud},
		Policy:   []config.PolicyRule{{Action: "allow", Principals: []string{orderService}}}}}
	full := config.Default()
	full.Gateway, full.Issuer = cfg, issuerURL
	if err := full.ValidateGateway(); err == nil || !strings.Contains(err.Error(), "routes[0].exchange") {
		t.Fatalf("validation: %v, want a refusal of routes[0].exchange", err)
	}
	cfg.TokenExchange = config.GatewayTokenExchange{}
	_, err := gateway.New(&cfg, gateway.Options{Clock: func() time.Time { return testNow }, TokenExchanger: stubExchanger{},
		Keys: resource.StaticKeys{Keys: []jose.JSONWebKey{}}})
	if !errors.Is(err, gateway.ErrConfig) || !strings.Contains(err.Error(), "certificate-only") {
		t.Fatalf("New: %v, want ErrConfig refusing exchange on a certificate-only route", err)
	}
}

type stubExchanger struct{}

func (stubExchanger) Exchange(context.Context, string, string, string) (string, time.Duration, error) {
	return "exchanged", time.Minute, nil
}

func (stubExchanger) Proof(string, string, string) (string, error) { return "proof", nil }
