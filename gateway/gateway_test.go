package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/demo"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/resource"
)

var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

const (
	issuerURL = "https://as.example"
	publicURL = "https://gw.example"
)

// env is an issuer key, a DPoP client, an upstream that reports what it
// received, and a gateway in front of it.
type env struct {
	t        *testing.T
	key      *ecdsa.PrivateKey
	signer   *dpop.Signer
	ck       *ecdsa.PrivateKey // signer's key
	upstream *httptest.Server
	gw       *gateway.Gateway
	cfg      config.Gateway
	seen     chan http.Header
}

func newEnv(t *testing.T, mod func(*config.Gateway)) *env {
	t.Helper()
	return newEnvWith(t, mod, nil)
}

// newEnvWith is newEnv with the gateway's options modified by opt.
func newEnvWith(t *testing.T, mod func(*config.Gateway), opt func(*gateway.Options)) *env {
	t.Helper()
	e := &env{t: t, seen: make(chan http.Header, 16)}
	e.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e.signer, _ = dpop.NewSigner(ck, dpop.WithClock(func() time.Time { return testNow }))
	e.ck = ck
	e.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("X-Test-Path", r.URL.EscapedPath())
		e.seen <- h
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<p>hi</p>"))
	}))
	t.Cleanup(e.upstream.Close)
	e.cfg = config.DefaultGateway()
	e.cfg.Enabled = true
	e.cfg.Issuer = issuerURL
	e.cfg.PublicURL = publicURL
	e.cfg.Routes = []config.Route{
		{Name: "orders", PathPrefix: "/orders/", Upstream: e.upstream.URL, Policy: []config.PolicyRule{
			{Action: "deny", Paths: []string{"/orders/admin/*"}},
			{Action: "allow", Principals: []string{"client:app"}, Methods: []string{"GET"}, Scopes: []string{"orders:read"}},
			{Action: "allow", Principals: []string{"client:app"}, Methods: []string{"POST"}, Scopes: []string{"orders:write"}},
		}},
		{Name: "public", PathPrefix: "/public", Upstream: e.upstream.URL, Unauthenticated: true},
		{Name: "demo", PathPrefix: "/demo/", Upstream: config.BuiltinDemo, Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"*"}}}},
	}
	if mod != nil {
		mod(&e.cfg)
	}
	opts := gateway.Options{
		Clock:     func() time.Time { return testNow },
		Keys:      resource.StaticKeys{Keys: []jose.JSONWebKey{{Key: &e.key.PublicKey, KeyID: "k1", Algorithm: "ES256"}}},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Upstreams: demo.Builtins(),
	}
	if opt != nil {
		opt(&opts)
	}
	var err error
	e.gw, err = gateway.New(&e.cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) token(claims map[string]any) string {
	base := map[string]any{
		"iss": issuerURL, "sub": "alice", "client_id": "app", "aud": publicURL,
		"iat": testNow.Unix(), "exp": testNow.Add(5 * time.Minute).Unix(), "jti": "t1",
		"scope": "orders:read", "cnf": map[string]any{"jkt": e.signer.Thumbprint()},
	}
	for k, v := range claims {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	hb, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "k1"})
	cb, _ := json.Marshal(base)
	in := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	d := sha256.Sum256([]byte(in))
	r, s, _ := ecdsa.Sign(rand.Reader, e.key, d[:])
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// call sends a request to the gateway with a token and a fresh proof.
func (e *env) call(method, path, tok string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, publicURL+path, nil)
	if tok != "" {
		p, err := e.signer.Proof(method, publicURL+path, dpop.WithAccessToken(tok))
		if err != nil {
			e.t.Fatal(err)
		}
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", p)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, r)
	return w
}

// getGateway sends GET u to a gateway listening at u's address, with the
// Host of publicURL (the gateway refuses other hosts).
func getGateway(c *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Host = strings.TrimPrefix(publicURL, "https://")
	return c.Do(req)
}

func (e *env) upstreamSaw() http.Header {
	select {
	case h := <-e.seen:
		return h
	default:
		return nil
	}
}

func (e *env) metrics() string {
	w := httptest.NewRecorder()
	e.gw.AdminHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Body.String()
}

func TestEndToEndIdentity(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(nil)
	forged := map[string]string{"X-Ward-Subject": "admin", "X-Ward-Client": "root", "X-Ward-Scopes": "everything", "X-Ward-JKT": "x"}
	w := e.call("GET", "/orders/42", tok, forged)
	if w.Code != 200 {
		t.Fatalf("%d %s %v", w.Code, w.Body, w.Header())
	}
	h := e.upstreamSaw()
	if h == nil {
		t.Fatal("upstream not called")
	}
	for k, want := range map[string]string{"X-Ward-Subject": "alice", "X-Ward-Client": "app", "X-Ward-Scopes": "orders:read", "X-Ward-JKT": e.signer.Thumbprint(), "X-Test-Path": "/orders/42"} {
		if got := h.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("upstream %s = %q, want %q", k, got, want)
		}
	}
	if h.Get("Authorization") != "" || h.Get("DPoP") != "" {
		t.Error("credentials forwarded")
	}
	if h.Get("X-Forwarded-Host") != "gw.example" || h.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("forwarded headers: %v", h)
	}
	for k, want := range map[string]string{
		"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
		"Content-Security-Policy":   "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
	} {
		// Once: the gateway's own copy is not added to the upstream's.
		if got := w.Header().Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("response %s = %q, want [%q]", k, got, want)
		}
	}
}

func TestForgedHeadersStrippedOnPublicRoute(t *testing.T) {
	e := newEnv(t, nil)
	w := e.call("GET", "/public/x", "", map[string]string{"X-Ward-Subject": "admin", "Authorization": "Bearer stolen"})
	if w.Code != 200 {
		t.Fatalf("%d", w.Code)
	}
	h := e.upstreamSaw()
	if h.Get("X-Ward-Subject") != "" || h.Get("Authorization") != "" {
		t.Errorf("forged or credential header reached the upstream: %v", h)
	}
	if w.Header().Get("Cache-Control") == "no-store" {
		t.Error("no-store on a public route")
	}
}

func TestForwardAuthorization(t *testing.T) {
	e := newEnv(t, func(c *config.Gateway) { c.Routes[0].ForwardAuthorization = true })
	if w := e.call("GET", "/orders/1", e.token(nil), nil); w.Code != 200 {
		t.Fatal(w.Code)
	}
	if h := e.upstreamSaw(); h.Get("Authorization") == "" || h.Get("DPoP") == "" {
		t.Error("credentials not forwarded on a route that asks for them")
	}
}

func TestRejectionsAndMetrics(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(nil)
	// Replay: the same proof twice.
	p, _ := e.signer.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
	for i, want := range []int{200, 401} {
		r := httptest.NewRequest("GET", publicURL+"/orders/1", nil)
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", p)
		w := httptest.NewRecorder()
		e.gw.Handler().ServeHTTP(w, r)
		if w.Code != want {
			t.Fatalf("use %d: %d %s", i, w.Code, w.Body)
		}
		if i == 1 && !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_dpop_proof"`) {
			t.Errorf("challenge %q", w.Header().Get("WWW-Authenticate"))
		}
	}
	e.upstreamSaw()
	cases := []struct {
		name, method, path, tok string
		status                  int
		challenge               string
	}{
		{"expired", "GET", "/orders/1", e.token(map[string]any{"exp": testNow.Add(-time.Hour).Unix()}), 401, `error="invalid_token"`},
		{"no token", "GET", "/orders/1", "", 401, `DPoP algs="ES256 EdDSA"`},
		{"wrong audience", "GET", "/orders/1", e.token(map[string]any{"aud": "https://other.example"}), 401, `error="invalid_token"`},
		{"policy deny", "GET", "/orders/admin/x", tok, 403, `error="access_denied"`},
		{"policy scope", "POST", "/orders/1", tok, 403, `error="insufficient_scope", error_description="the access token lacks a scope this route requires", scope="orders:write"`},
		{"other client", "GET", "/orders/1", e.token(map[string]any{"client_id": "other"}), 403, `error="access_denied"`},
	}
	for _, c := range cases {
		w := e.call(c.method, c.path, c.tok, nil)
		if w.Code != c.status || !strings.Contains(w.Header().Get("WWW-Authenticate"), c.challenge) {
			t.Errorf("%s: %d %q %s", c.name, w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
		}
		if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers missing on an error: %v", c.name, w.Header())
		}
	}
	if h := e.upstreamSaw(); h != nil {
		t.Errorf("a refused request reached the upstream")
	}
	m := e.metrics()
	for _, want := range []string{
		`ward_gateway_rejections_total{error="invalid_dpop_proof",reason="replayed"} 1`,
		`ward_gateway_rejections_total{error="invalid_token",reason="expired"} 1`,
		`ward_gateway_rejections_total{error="",reason="no_token"} 1`,
		`ward_gateway_rejections_total{error="invalid_token",reason="wrong_audience"} 1`,
		`ward_gateway_rejections_total{error="access_denied",reason="policy_denied_by_rule"} 1`,
		`ward_gateway_rejections_total{error="insufficient_scope",reason="policy_insufficient_scope"} 1`,
		`ward_gateway_requests_total{outcome="allowed",route="orders"} 1`,
		`ward_gateway_requests_total{outcome="rejected",route="orders"} 4`,
		`ward_gateway_requests_total{outcome="denied",route="orders"} 3`,
		`ward_gateway_request_duration_seconds_bucket{outcome="allowed",route="orders",le="+Inf"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestPathsAndLimits(t *testing.T) {
	e := newEnv(t, func(c *config.Gateway) { c.Limits.MaxBodyBytes = 10 })
	tok := e.token(nil)
	for _, p := range []string{"/orders/%2e%2e/admin/x", "/orders%2fadmin", "/orders/admin./x", "/orders//admin/x"} {
		r := httptest.NewRequest("GET", publicURL+"/x", nil)
		r.URL.RawPath, r.URL.Path = p, p // as sent on the wire
		r.Header.Set("Authorization", "DPoP "+tok)
		w := httptest.NewRecorder()
		e.gw.Handler().ServeHTTP(w, r)
		if w.Code != 400 {
			t.Errorf("%s: %d", p, w.Code)
		}
	}
	if w := e.call("GET", "/nowhere", tok, nil); w.Code != 404 {
		t.Errorf("no route: %d", w.Code)
	}
	r := httptest.NewRequest("POST", publicURL+"/public/x", strings.NewReader(strings.Repeat("a", 100)))
	w := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, r)
	if w.Code != 413 {
		t.Errorf("large body: %d", w.Code)
	}
	if h := e.upstreamSaw(); h != nil {
		t.Error("upstream reached")
	}
}

func TestDemoUpstream(t *testing.T) {
	e := newEnv(t, nil)
	w := e.call("GET", "/demo/whoami", e.token(nil), map[string]string{"X-Ward-Subject": "forged"})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var got struct {
		Headers map[string]string `json:"identity_headers"`
		Auth    bool              `json:"authorization_forwarded"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Headers["X-Ward-Subject"] != "alice" || got.Headers["X-Ward-Client"] != "app" || got.Auth {
		t.Errorf("%s", w.Body)
	}
}

func TestReloadKeepsOldOnBadFile(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	file := filepath.Join(dir, "ward.yaml")
	load := gateway.FileLoader(file)
	const head = "issuer: https://as.example\ntls: {cert_file: c.pem, key_file: k.pem}\nkeys: {kek_file: /k}\n"
	bad := head + "gateway:\n  enabled: true\n  public_url: https://gw.example\n  routes:\n    - name: orders\n      upstream: ftp://nope\n"
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	err := e.gw.ReloadFrom(load)
	if err == nil || !strings.Contains(err.Error(), "gateway.routes[0].upstream") {
		t.Fatalf("bad file accepted or unclear error: %v", err)
	}
	if w := e.call("GET", "/orders/1", e.token(nil), nil); w.Code != 200 {
		t.Fatalf("old configuration lost: %d", w.Code)
	}
	e.upstreamSaw()
	good := head + "gateway:\n  enabled: true\n  public_url: https://gw.example\n  routes:\n    - name: v2\n      path_prefix: /v2\n      upstream: " + e.upstream.URL + "\n      strip_prefix: true\n      policy: [{action: allow, principals: [\"sub:alice\"]}]\n"
	if err := os.WriteFile(file, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.gw.ReloadFrom(load); err != nil {
		t.Fatal(err)
	}
	if w := e.call("GET", "/orders/1", e.token(nil), nil); w.Code != 404 {
		t.Errorf("old route still served: %d", w.Code)
	}
	if w := e.call("GET", "/v2/items", e.token(nil), nil); w.Code != 200 {
		t.Errorf("new route: %d %s", w.Code, w.Body)
	}
	if h := e.upstreamSaw(); h.Get("X-Test-Path") != "/items" {
		t.Errorf("strip_prefix: upstream saw %q", h.Get("X-Test-Path"))
	}
	// A change needing a restart is refused.
	c := e.cfg
	c.Listen = "127.0.0.1:1"
	if err := e.gw.Reload(&c); err == nil {
		t.Error("listener change accepted by reload")
	}
	m := e.metrics()
	if !strings.Contains(m, `ward_gateway_reloads_total{result="refused"} 2`) || !strings.Contains(m, `ward_gateway_reloads_total{result="ok"} 1`) {
		t.Errorf("reload metrics:\n%s", grep(m, "reloads"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestHealthAndGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = w.Write([]byte("done"))
	}))
	defer slow.Close()
	e := newEnv(t, func(c *config.Gateway) { c.Routes[1].Upstream = slow.URL })
	admin := e.gw.AdminHandler()
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != want {
			t.Errorf("%s: %d", path, w.Code)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.gw.Serve(ctx, ln, nil) }()
	resc := make(chan string, 1)
	go func() {
		resp, err := getGateway(http.DefaultClient, "http://"+ln.Addr().String()+"/public/slow")
		if err != nil {
			resc <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resc <- string(b)
	}()
	time.Sleep(100 * time.Millisecond) // the request is in flight
	cancel()
	time.Sleep(50 * time.Millisecond)
	w := httptest.NewRecorder()
	admin.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != 503 {
		t.Errorf("readyz while draining: %d", w.Code)
	}
	close(release)
	if got := <-resc; got != "done" {
		t.Errorf("in-flight request: %q", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestServerSettings(t *testing.T) {
	e := newEnv(t, func(c *config.Gateway) { c.TLS = config.TLS{CertFile: "c", KeyFile: "k"} })
	srv := e.gw.Server()
	if srv.TLSConfig == nil || srv.TLSConfig.MinVersion != 0x0304 {
		t.Error("TLS 1.3 not enforced")
	}
	if srv.MaxHeaderBytes != 32<<10 || srv.ReadHeaderTimeout != 5*time.Second || srv.IdleTimeout == 0 || srv.WriteTimeout == 0 {
		t.Errorf("limits: %+v", srv)
	}
}
