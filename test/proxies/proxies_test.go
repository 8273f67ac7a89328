package proxies_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/authztest"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/store"
)

const (
	audience = "https://api.test"
	other    = "https://other.test"
)

// stack is a proxy in front of a test upstream, with Ward's gateway as
// its authorizer and Ward's authorization server issuing the tokens.
type stack struct {
	t        *testing.T
	as       *authztest.Server
	gw       *gateway.Gateway
	ward     string // the authorizer's host:port
	proxy    string // http://host:port clients call
	upstream *recorder
	hc       *http.Client
	// base's proofs fetch nonces.
	base token
}

// recorder is the upstream: it answers 200 and keeps what it received.
type recorder struct {
	mu   sync.Mutex
	last *http.Request
	n    int
}

func (u *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.last, u.n = r.Clone(context.Background()), u.n+1
	u.mu.Unlock()
	fmt.Fprintf(w, "upstream %s %s", r.Method, r.URL.RequestURI())
}

// seen returns the request the upstream last received and how many it
// received in all.
func (u *recorder) seen() (*http.Request, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last, u.n
}

// newStack starts the authorization server, the gateway's forward-auth
// endpoint and the upstream; start starts the proxy given the Ward and
// upstream addresses and returns its base URL.
func newStack(t *testing.T, start func(t *testing.T, ward, upstream string) string) *stack {
	s := &stack{t: t, upstream: &recorder{}, hc: &http.Client{Timeout: 10 * time.Second}}
	cl := func(id string) store.Client {
		return store.Client{ID: id, AuthMethod: oauth.AuthSecretBasic, GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials},
			Scopes: []string{"read", "write"}, Audiences: []string{audience, other}}
	}
	s.as = authztest.New(t, authztest.Options{Clients: []store.Client{cl("svc")}})
	up := httptest.NewServer(s.upstream)
	t.Cleanup(up.Close)

	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.Issuer, cfg.Audience = true, s.as.URL, audience
	policy := []config.PolicyRule{{Action: "allow", Principals: []string{"client:svc"}, Methods: []string{"GET"}, Scopes: []string{"read"}}}
	cfg.Routes = []config.Route{
		{Name: "orders", PathPrefix: "/orders/", Upstream: up.URL, Policy: policy},
		{Name: "v1", PathPrefix: "/v1/", Upstream: up.URL, Policy: policy},
		{Name: "limited", PathPrefix: "/limited/", Upstream: up.URL, Unauthenticated: true,
			RateLimits: config.RateTiers{IP: config.Rate{Rate: 2, Burst: 2, Period: time.Hour}}},
		{Name: "public", PathPrefix: "/public/", Upstream: up.URL, Unauthenticated: true},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ward = ln.Addr().String()
	cfg.Listen = "127.0.0.1:1" // not served: the endpoint has its own listener
	cfg.Authorizer = config.Authorizer{Listen: s.ward, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	nonces, err := dpop.NewStatelessNonces(audience, time.Minute, []byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	s.gw, err = gateway.New(&cfg, gateway.Options{Nonces: nonces, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.gw.ServeAuthorizer(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	s.proxy = start(t, s.ward, strings.TrimPrefix(up.URL, "http://"))
	return s
}

// token is a DPoP-bound access token of svc, with its signer.
type token struct {
	access string
	signer *dpop.Signer
}

func (s *stack) token(opts ...client.Option) token {
	s.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	opts = append([]client.Option{client.WithClientSecret(s.as.Secrets["svc"], client.AuthStyleBasic), client.WithKey(key),
		client.WithResource(audience), client.WithScopes("read")}, opts...)
	c, err := client.Discover(context.Background(), s.as.URL, "svc", opts...)
	if err != nil {
		s.t.Fatal(err)
	}
	tok, err := c.ClientCredentials(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	sg, err := dpop.NewSigner(key)
	if err != nil {
		s.t.Fatal(err)
	}
	return token{tok.AccessToken, sg}
}

// with is s for a subtest.
func (s *stack) with(t *testing.T) *stack { c := *s; c.t = t; return &c }

// nonce is a fresh DPoP nonce, as the gateway hands it out in its
// challenge to a proof without one.
func (s *stack) nonce(tok token) string {
	s.t.Helper()
	p, err := tok.signer.Proof("GET", s.proxy+"/orders/0", dpop.WithAccessToken(tok.access))
	if err != nil {
		s.t.Fatal(err)
	}
	resp := s.do("GET", "/orders/0", map[string]string{"Authorization": "DPoP " + tok.access, "Dpop": p})
	n := resp.Header.Get("DPoP-Nonce")
	if resp.StatusCode != 401 || n == "" {
		s.t.Fatalf("no nonce challenge: %d %v", resp.StatusCode, resp.Header)
	}
	return n
}

// proof signs a proof of tok's key for method and the proxy's URL of
// path, with a fresh nonce.
func (s *stack) proof(tok token, method, path string) string {
	s.t.Helper()
	p, err := tok.signer.Proof(method, s.proxy+path, dpop.WithAccessToken(tok.access), dpop.WithNonce(s.nonce(s.base)))
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

func (s *stack) do(method, path string, hdr map[string]string) *http.Response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.proxy+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = []string{v} // as given, underscores included
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// call sends method path with tok and a proof for proofMethod and
// proofPath.
func (s *stack) call(tok token, method, path, proofMethod, proofPath string, hdr map[string]string) *http.Response {
	s.t.Helper()
	h := map[string]string{"Authorization": "DPoP " + tok.access, "Dpop": s.proof(tok, proofMethod, proofPath)}
	for k, v := range hdr {
		h[k] = v
	}
	return s.do(method, path, h)
}

// expect checks the status and that the upstream saw the request or not.
func (s *stack) expect(resp *http.Response, status int, before int) {
	s.t.Helper()
	_, n := s.upstream.seen()
	if resp.StatusCode != status {
		s.t.Fatalf("status %d, want %d (headers %v)", resp.StatusCode, status, resp.Header)
	}
	if forwarded := n > before; forwarded != (status == 200) {
		s.t.Fatalf("upstream received the request: %v, status %d", forwarded, status)
	}
}

func (s *stack) count() int { _, n := s.upstream.seen(); return n }

// attacks is the table every proxy must pass with Ward as its
// authorizer.
func attacks(t *testing.T, s *stack) {
	t.Run("happy_path_sdk", func(t *testing.T) {
		s := s.with(t)
		// The SDK against the proxy: its own proofs and nonce retry.
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		c, err := client.Discover(context.Background(), s.as.URL, "svc", client.WithClientSecret(s.as.Secrets["svc"], client.AuthStyleBasic),
			client.WithKey(key), client.WithResource(audience), client.WithScopes("read"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.HTTPClient(c.ClientCredentialsTokenSource()).Get(s.proxy + "/orders/7?x=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "upstream GET /orders/7?x=1" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		up, _ := s.upstream.seen()
		if up.Header.Get("X-Ward-Client") != "svc" || up.Header.Get("X-Ward-Scopes") != "read" || up.Header.Get("X-Ward-Jkt") == "" {
			t.Fatalf("identity upstream: %v", up.Header)
		}
		if up.Header.Get("Authorization") != "" || up.Header.Get("Dpop") != "" {
			t.Fatalf("credentials upstream: %v", up.Header)
		}
	})
	tok := s.token()
	s.base = tok
	t.Run("happy_path", func(t *testing.T) {
		s := s.with(t)
		n := s.count()
		s.expect(s.call(tok, "GET", "/orders/1", "GET", "/orders/1", nil), 200, n)
	})
	t.Run("replayed_proof", func(t *testing.T) {
		s := s.with(t)
		h := map[string]string{"Authorization": "DPoP " + tok.access, "Dpop": s.proof(tok, "GET", "/orders/2")}
		n := s.count()
		s.expect(s.do("GET", "/orders/2", h), 200, n)
		resp := s.do("GET", "/orders/2", h)
		s.expect(resp, 401, n+1)
		if !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_dpop_proof") {
			t.Fatalf("challenge %q", resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("proxy_rewrote_path", func(t *testing.T) {
		s := s.with(t)
		// The proxy serves /v1/x from the upstream's /orders/x: the
		// proof names the URL the client used, and only that one.
		n := s.count()
		s.expect(s.call(tok, "GET", "/v1/3", "GET", "/v1/3", nil), 200, n)
		if up, _ := s.upstream.seen(); up.URL.Path != "/orders/3" {
			t.Fatalf("upstream path %s: the proxy does not rewrite", up.URL.Path)
		}
		s.expect(s.call(tok, "GET", "/v1/3", "GET", "/orders/3", nil), 401, n+1)
	})
	t.Run("forged_identity_headers", func(t *testing.T) {
		s := s.with(t)
		n := s.count()
		s.expect(s.call(tok, "GET", "/orders/4", "GET", "/orders/4", map[string]string{"X-Ward-Client": "admin", "X-Ward-Subject": "root"}), 200, n)
		up, _ := s.upstream.seen()
		if v := up.Header.Values("X-Ward-Client"); len(v) != 1 || v[0] != "svc" {
			t.Fatalf("X-Ward-Client upstream %q", v)
		}
		if v := up.Header.Values("X-Ward-Subject"); len(v) != 0 && (len(v) != 1 || v[0] == "root") {
			t.Fatalf("X-Ward-Subject upstream %q", v)
		}
		// On a public route there is no identity: a client's copy must
		// not stand in for one.
		s.expect(s.do("GET", "/public/x", map[string]string{"X-Ward-Client": "admin", "X-Ward-Subject": "root"}), 200, n+1)
		up, _ = s.upstream.seen()
		if up.Header.Get("X-Ward-Client") != "" || up.Header.Get("X-Ward-Subject") != "" {
			t.Fatalf("forged identity upstream on a public route: %v", up.Header)
		}
	})
	t.Run("underscore_identity_headers", func(t *testing.T) {
		s := s.with(t)
		n := s.count()
		s.expect(s.do("GET", "/public/y", map[string]string{"X_Ward_Client": "admin", "x_ward_subject": "root"}), 200, n)
		up, _ := s.upstream.seen()
		// Only the proxy's own, empty, identity headers may be there:
		// no name that a CGI-style server folds to X-Ward-*.
		for k, v := range up.Header {
			if f := strings.ToLower(strings.ReplaceAll(k, "_", "-")); strings.HasPrefix(f, "x-ward-") && (strings.Contains(k, "_") || strings.Join(v, "") != "") {
				t.Fatalf("upstream received %s: %v", k, up.Header)
			}
		}
	})
	t.Run("forged_original_uri_from_untrusted_peer", func(t *testing.T) {
		s := s.with(t)
		// A peer outside trusted_proxies calls Ward directly and names a
		// public path: refused, never believed.
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}, Timeout: 5 * time.Second}
		hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
		req, _ := http.NewRequest("GET", "http://"+s.ward+"/_ward/authorize", nil)
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-URI", "/public/x")
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Uri", "/public/x")
		req.Header.Set("X-Forwarded-Proto", "http")
		req.Header.Set("X-Forwarded-Host", strings.TrimPrefix(s.proxy, "http://"))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		// Through the proxy, a client's X-Original-URI naming a public
		// path does not unlock a protected one.
		n := s.count()
		resp = s.do("GET", "/orders/5", map[string]string{"X-Original-Uri": "/public/x", "X-Forwarded-Uri": "/public/x", "X-Original-Method": "GET"})
		if resp.StatusCode == 200 || s.count() != n {
			t.Fatalf("forged URI let the request through: %d", resp.StatusCode)
		}
	})
	t.Run("missing_token", func(t *testing.T) {
		s := s.with(t)
		n := s.count()
		resp := s.do("GET", "/orders/6", nil)
		s.expect(resp, 401, n)
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "DPoP") {
			t.Fatalf("challenge %q", resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("wrong_scope", func(t *testing.T) {
		s := s.with(t)
		w := s.token(client.WithScopes("write"))
		n := s.count()
		s.expect(s.call(w, "GET", "/orders/8", "GET", "/orders/8", nil), 403, n)
	})
	t.Run("nonce_challenge_passed_through", func(t *testing.T) {
		s := s.with(t)
		p, _ := tok.signer.Proof("GET", s.proxy+"/orders/9", dpop.WithAccessToken(tok.access))
		n := s.count()
		resp := s.do("GET", "/orders/9", map[string]string{"Authorization": "DPoP " + tok.access, "Dpop": p})
		s.expect(resp, 401, n)
		if resp.Header.Get("DPoP-Nonce") == "" || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "use_dpop_nonce") {
			t.Fatalf("no nonce challenge for the client: %v", resp.Header)
		}
	})
	t.Run("rate_limited_passed_through", func(t *testing.T) {
		s := s.with(t)
		n := s.count()
		s.expect(s.do("GET", "/limited/1", nil), 200, n)
		s.expect(s.do("GET", "/limited/1", nil), 200, n+1)
		resp := s.do("GET", "/limited/1", nil)
		s.expect(resp, 429, n+2)
		if resp.Header.Get("Retry-After") == "" {
			t.Fatalf("no Retry-After: %v", resp.Header)
		}
	})
	t.Run("token_for_another_audience", func(t *testing.T) {
		s := s.with(t)
		o := s.token(client.WithResource(other))
		n := s.count()
		resp := s.call(o, "GET", "/orders/10", "GET", "/orders/10", nil)
		s.expect(resp, 401, n)
		if !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Fatalf("challenge %q", resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("protected_resource_metadata", func(t *testing.T) {
		// The challenges' resource_metadata (RFC 9728) is served by Ward's
		// authorizer through the proxy, never by the upstream.
		s := s.with(t)
		n := s.count()
		resp, err := s.hc.Get(s.proxy + "/.well-known/oauth-protected-resource")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var md struct {
			Resource string `json:"resource"`
			DPoP     bool   `json:"dpop_bound_access_tokens_required"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&md); err != nil || resp.StatusCode != 200 || md.Resource != audience || !md.DPoP {
			t.Fatalf("%d %+v %v", resp.StatusCode, md, err)
		}
		if s.count() != n {
			t.Fatal("the upstream was asked for the metadata")
		}
	})
	t.Run("proof_by_another_key", func(t *testing.T) {
		s := s.with(t)
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		sg, _ := dpop.NewSigner(key)
		n := s.count()
		s.expect(s.call(token{tok.access, sg}, "GET", "/orders/11", "GET", "/orders/11", nil), 401, n)
	})
	t.Run("method_mismatch", func(t *testing.T) {
		s := s.with(t)
		n := s.count()
		s.expect(s.call(tok, "GET", "/orders/12", "POST", "/orders/12", nil), 401, n)
	})
	t.Run("query_token", func(t *testing.T) {
		s := s.with(t)
		n := s.count()
		resp := s.do("GET", "/orders/13?access_token="+tok.access, nil)
		if resp.StatusCode == 200 || s.count() != n {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

// freePort is a free loopback port for a proxy.
func freePort(t *testing.T) string { return wardtest.FreeAddr(t) }

// requireProxy finds a proxy binary or skips (fails under
// WARD_TEST_REQUIRE_PROXIES=1, which .ci/run sets when it installed both).
func requireProxy(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	name := filepath.Base(path)
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is not installed (Debian: apt-get install %s): the forward-auth tests with a real %s are skipped", name, name, name)
	if os.Getenv("WARD_TEST_REQUIRE_PROXIES") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; set WARD_TEST_REQUIRE_PROXIES=1 to fail instead")
	return ""
}

// run starts a proxy process and waits until addr accepts connections.
func run(t *testing.T, dir, addr string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out := &wardtest.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", name, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s: %s", name, addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
