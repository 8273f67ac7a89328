package gateway_test

import (
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
)

// withAuthorizer turns the forward-auth endpoint on for httptest's peer
// address (192.0.2.1) on the gateway's listener.
func withAuthorizer(c *config.Gateway) {
	c.Authorizer.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
}

// check is a proxy's call to the endpoint about the client's method and
// URL (publicURL+uri), with the client's token and a proof for proofURL.
func (e *env) check(style, method, uri, proofURL, tok string, hdr map[string]string) *httptest.ResponseRecorder {
	target := "http://ward.internal/_ward/authorize"
	if style == "envoy" {
		target += uri
	}
	r := httptest.NewRequest(method, target, nil)
	if style != "envoy" {
		r.Method = "GET"
	}
	host := strings.TrimPrefix(publicURL, "https://")
	r.Header.Set("X-Forwarded-Proto", "https")
	switch style {
	case "nginx":
		r.Header.Set("X-Original-Method", method)
		r.Header.Set("X-Original-URI", uri)
		r.Header.Set("X-Forwarded-Host", host)
	case "caddy":
		r.Header.Set("X-Forwarded-Method", method)
		r.Header.Set("X-Forwarded-Uri", uri)
		r.Header.Set("X-Forwarded-Host", host)
	case "envoy":
		r.Host = host
	}
	if tok != "" {
		p, err := e.signer.Proof(method, proofURL, dpop.WithAccessToken(tok))
		if err != nil {
			e.t.Fatal(err)
		}
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", p)
	}
	for k, v := range hdr {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, r)
	return w
}

func TestAuthorizerAllows(t *testing.T) {
	e := newEnv(t, withAuthorizer)
	for i, style := range []string{"nginx", "caddy", "envoy"} {
		t.Run(style, func(t *testing.T) {
			tok := e.token(map[string]any{"jti": "a" + style})
			w := e.check(style, "GET", "/orders/1?x=1", publicURL+"/orders/1", tok, map[string]string{"X-Ward-Subject": "mallory"})
			if w.Code != 200 || w.Header().Get("X-Ward-Subject") != "alice" || w.Header().Get("X-Ward-Client") != "app" {
				t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
			}
			rm := w.Header().Get("X-Envoy-Auth-Headers-To-Remove")
			if strings.Contains(rm, "x-ward-subject") || (style == "envoy") != strings.Contains(rm, "authorization") {
				t.Errorf("%d: X-Envoy-Auth-Headers-To-Remove %q", i, rm)
			}
		})
	}
}

func TestAuthorizerRefuses(t *testing.T) {
	e := newEnv(t, withAuthorizer)
	tok := e.token(nil)
	getProof, _ := e.signer.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
	for _, c := range []struct {
		name, style, method, uri, proofURL string
		tok                                string
		hdr                                map[string]string
		status                             int
		challenge                          string
	}{
		{"no_token", "nginx", "GET", "/orders/1", "", "", nil, 401, "DPoP"},
		{"proof_for_another_path", "caddy", "GET", "/orders/2", publicURL + "/orders/1", tok, nil, 401, `error="invalid_dpop_proof"`},
		{"proof_for_another_method", "nginx", "POST", "/orders/1", "", "", map[string]string{"Authorization": "DPoP " + tok, "DPoP": getProof}, 401, `error="invalid_dpop_proof"`},
		{"policy", "envoy", "DELETE", "/orders/1", publicURL + "/orders/1", tok, nil, 403, `error="`},
		{"untrusted_peer", "nginx", "GET", "/public", "", "", map[string]string{"X-Test-Peer": "203.0.113.9:1"}, 403, ""},
		{"both_styles", "nginx", "GET", "/public", "", "", map[string]string{"X-Forwarded-Uri": "/public"}, 400, ""},
		{"forged_on_envoy", "envoy", "GET", "/public", "", "", map[string]string{"X-Original-URI": "/public"}, 400, ""},
		{"no_proto", "caddy", "GET", "/public", "", "", map[string]string{"X-Forwarded-Proto": ""}, 400, ""},
		{"two_hosts", "caddy", "GET", "/public", "", "", map[string]string{"X-Forwarded-Host": "a.example, gw.example"}, 400, ""},
		{"absolute_uri", "nginx", "GET", "https://evil.example/public", "", "", nil, 400, ""},
		{"unknown_host", "caddy", "GET", "/public", "", "", map[string]string{"X-Forwarded-Host": "evil.example"}, 400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			peer := c.hdr["X-Test-Peer"]
			delete(c.hdr, "X-Test-Peer")
			var w *httptest.ResponseRecorder
			if peer != "" {
				w = e.checkFrom(peer, c.style, c.method, c.uri, c.proofURL, c.tok, c.hdr)
			} else {
				w = e.check(c.style, c.method, c.uri, c.proofURL, c.tok, c.hdr)
			}
			if w.Code != c.status || !strings.Contains(w.Header().Get("WWW-Authenticate"), c.challenge) {
				t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
			}
			if w.Header().Get("X-Ward-Subject") != "" {
				t.Fatal("identity on a refusal")
			}
		})
	}
}

func (e *env) checkFrom(peer, style, method, uri, proofURL, tok string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "http://ward.internal/_ward/authorize", nil)
	r.RemoteAddr = peer
	r.Header.Set("X-Original-Method", method)
	r.Header.Set("X-Original-URI", uri)
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", strings.TrimPrefix(publicURL, "https://"))
	w := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, r)
	return w
}

// TestAuthorizerNonce: the nonce challenge goes to the proxy with its
// DPoP-Nonce, to pass on to the client, and a proof with the nonce passes.
func TestAuthorizerNonce(t *testing.T) {
	nonces, err := dpop.NewStatelessNonces(publicURL, time.Minute, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, withAuthorizer, func(o *gateway.Options) { o.Nonces = nonces })
	tok := e.token(nil)
	w := e.check("nginx", "GET", "/orders/1", publicURL+"/orders/1", tok, nil)
	n := w.Header().Get("DPoP-Nonce")
	if w.Code != 401 || n == "" || !strings.Contains(w.Header().Get("WWW-Authenticate"), "use_dpop_nonce") {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	p, _ := e.signer.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok), dpop.WithNonce(n))
	w = e.check("nginx", "GET", "/orders/1", "", "", map[string]string{"Authorization": "DPoP " + tok, "DPoP": p})
	if w.Code != 200 {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
	}
}

// TestAuthorizerRateLimit: 429 with Retry-After goes to the proxy, and
// the per-IP tier counts the client's address from X-Forwarded-For, not
// the proxy's.
func TestAuthorizerRateLimit(t *testing.T) {
	e := newEnv(t, func(c *config.Gateway) {
		withAuthorizer(c)
		c.RateLimits.IP = config.Rate{Rate: 1, Burst: 1}
	})
	hit := func(client string) *httptest.ResponseRecorder {
		return e.check("caddy", "GET", "/public", "", "", map[string]string{"X-Forwarded-For": client})
	}
	if w := hit("198.51.100.1"); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w := hit("198.51.100.1"); w.Code != 429 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "rate_limited") {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
	}
	if w := hit("198.51.100.2"); w.Code != 200 {
		t.Fatalf("another client: %d %s", w.Code, w.Body)
	}
}

// TestAuthorizerUntrustedPeerLogged: a call from a peer outside
// trusted_proxies is refused with 403 and a log line naming the peer,
// whatever it says the request was.
func TestAuthorizerUntrustedPeerLogged(t *testing.T) {
	var log strings.Builder
	e := newEnvWith(t, withAuthorizer, func(o *gateway.Options) { o.Logger = slog.New(slog.NewTextHandler(&log, nil)) })
	w := e.checkFrom("203.0.113.9:1", "nginx", "GET", "/public", "", "", nil)
	if w.Code != 403 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if l := log.String(); !strings.Contains(l, "forward-auth call from a peer not in gateway.authorizer.trusted_proxies refused") || !strings.Contains(l, "remote=203.0.113.9:1") {
		t.Fatalf("log: %s", l)
	}
}

// TestAuthorizerEnvoyKeepsIdentity plays Envoy's HTTP ext_authz on an
// allowed answer: it sets the answer's x-ward-* headers on the client's
// request, then removes x-envoy-auth-headers-to-remove (Envoy's
// ext_authz.cc applies the removals after the sets). The verified
// identity must reach the upstream; the client's forged copies must not.
func TestAuthorizerEnvoyKeepsIdentity(t *testing.T) {
	e := newEnv(t, withAuthorizer)
	tok := e.token(nil)
	forged := map[string]string{"X-Ward-Subject": "mallory", "X-Ward-Jkt": "forged", "X-Real-Ip": "10.0.0.1"}
	w := e.check("envoy", "GET", "/orders/1", publicURL+"/orders/1", tok, forged)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	upstream := httptest.NewRequest("GET", "/orders/1", nil).Header
	upstream.Set("Authorization", "DPoP "+tok)
	for k, v := range forged {
		upstream.Set(k, v)
	}
	for k, v := range w.Header() {
		if strings.HasPrefix(strings.ToLower(k), "x-ward-") { // allowed_upstream_headers
			upstream[k] = v
		}
	}
	for _, n := range strings.Split(w.Header().Get("X-Envoy-Auth-Headers-To-Remove"), ",") {
		upstream.Del(n)
	}
	if got := upstream.Get("X-Ward-Subject"); got != "alice" {
		t.Errorf("upstream X-Ward-Subject %q, want alice (to-remove %q)", got, w.Header().Get("X-Envoy-Auth-Headers-To-Remove"))
	}
	for _, n := range []string{"Authorization", "X-Real-Ip"} {
		if upstream.Get(n) != "" {
			t.Errorf("upstream got the client's %s", n)
		}
	}
	if v := upstream.Values("X-Ward-Jkt"); len(v) > 0 && v[0] != e.signer.Thumbprint() {
		t.Errorf("upstream X-Ward-Jkt %q", v)
	}
}

// TestAuthorizerOtherPort: a proof made for another origin on the
// gateway's host name (gw.example:8443) is not accepted at public_url
// (gw.example, port 443) when the client names that origin in Host and
// the proxy passes it on; the default port named explicitly is the same
// origin.
func TestAuthorizerOtherPort(t *testing.T) {
	e := newEnv(t, withAuthorizer)
	for i, c := range []struct {
		host   string
		status int
	}{{"gw.example:8443", 400}, {"gw.example:443", 200}} {
		tok := e.token(map[string]any{"jti": "op" + c.host})
		u := "https://" + c.host + "/orders/1"
		p, err := e.signer.Proof("GET", u, dpop.WithAccessToken(tok))
		if err != nil {
			t.Fatal(err)
		}
		w := e.check("nginx", "GET", "/orders/1", "", "", map[string]string{"X-Forwarded-Host": c.host, "Authorization": "DPoP " + tok, "DPoP": p})
		if w.Code != c.status {
			t.Errorf("%d: %s: %d, want %d: %s", i, c.host, w.Code, c.status, w.Body)
		}
	}
}
