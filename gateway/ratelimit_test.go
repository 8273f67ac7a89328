package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
)

func (e *env) callFrom(remote, xff, path string) *httptest.ResponseRecorder {
	hdr := map[string]string{}
	if xff != "" {
		hdr["X-Forwarded-For"] = xff
	}
	r := httptest.NewRequest(http.MethodGet, publicURL+path, nil)
	r.RemoteAddr = remote
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, r)
	return w
}

func rateLimited(t *testing.T, w *httptest.ResponseRecorder, retry string) {
	t.Helper()
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", w.Code, w.Body)
	}
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] != "rate_limited" {
		t.Fatalf("body %s", w.Body)
	}
	if got := w.Header().Get("Retry-After"); got != retry {
		t.Fatalf("Retry-After %q, want %q", got, retry)
	}
	if w.Header().Get("RateLimit") == "" || w.Header().Get("RateLimit-Policy") == "" {
		t.Fatalf("no RateLimit headers: %v", w.Header())
	}
}

func TestRateLimitIPTier(t *testing.T) {
	e := newEnv(t, func(g *config.Gateway) {
		g.RateLimits.IP = config.Rate{Rate: 2, Period: time.Minute}
	})
	a := "203.0.113.7:4000"
	for i := range 2 {
		w := e.callFrom(a, "", "/public/x")
		if w.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i, w.Code)
		}
		e.upstreamSaw()
	}
	w := e.callFrom(a, "", "/public/x")
	rateLimited(t, w, "30")
	if e.upstreamSaw() != nil {
		t.Fatal("a limited request reached the upstream")
	}
	// A forged X-Forwarded-For from an untrusted peer changes nothing.
	rateLimited(t, e.callFrom(a, "198.51.100.9", "/public/x"), "30")
	// Another address has its own allowance; so has another route.
	if w := e.callFrom("203.0.113.8:4000", "", "/public/x"); w.Code != http.StatusOK {
		t.Fatalf("other IP: %d", w.Code)
	}
	e.upstreamSaw()
	if w := e.callFrom(a, "", "/demo/x"); w.Code == http.StatusTooManyRequests {
		t.Fatal("routes share an allowance")
	}
	// IPv6 clients are counted by /64.
	e.callFrom("[2001:db8::1]:1", "", "/public/x")
	e.callFrom("[2001:db8::2]:1", "", "/public/x")
	rateLimited(t, e.callFrom("[2001:db8::3]:1", "", "/public/x"), "30")
	// The metric by route and tier.
	mw := httptest.NewRecorder()
	e.gw.AdminHandler().ServeHTTP(mw, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	b, _ := io.ReadAll(mw.Body)
	if !strings.Contains(string(b), `ward_gateway_rate_limited_total{route="public",tier="ip"} 3`) {
		t.Fatalf("metric missing:\n%s", grepLines(string(b), "rate_limited"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestRateLimitTrustedProxy(t *testing.T) {
	e := newEnv(t, func(g *config.Gateway) {
		g.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		g.RateLimits.IP = config.Rate{Rate: 1, Period: time.Minute}
	})
	proxy := "10.0.0.2:443"
	if w := e.callFrom(proxy, "198.51.100.1", "/public/"); w.Code != http.StatusOK {
		t.Fatal(w.Code)
	}
	e.upstreamSaw()
	// The same client behind the proxy is limited even if it prepends a
	// forged entry; another client behind the same proxy is not.
	rateLimited(t, e.callFrom(proxy, "1.2.3.4, 198.51.100.1", "/public/"), "60")
	if w := e.callFrom(proxy, "198.51.100.2", "/public/"); w.Code != http.StatusOK {
		t.Fatalf("second client: %d", w.Code)
	}
	e.upstreamSaw()
}

func TestRateLimitClientAndSubjectTiers(t *testing.T) {
	e := newEnv(t, func(g *config.Gateway) {
		g.RateLimits.Client = config.Rate{Rate: 100, Period: time.Minute}
		g.Routes[0].RateLimits.Subject = config.Rate{Rate: 2, Period: time.Second}
	})
	tok := e.token(nil)
	w := e.call(http.MethodGet, "/orders/1", tok, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	e.upstreamSaw()
	// Allowed responses carry the remaining quota of every tier.
	if got := w.Header().Get("RateLimit"); got != `"client";r=99;t=1, "subject";r=1;t=1` {
		t.Fatalf("RateLimit %q", got)
	}
	if got := w.Header().Get("RateLimit-Policy"); got != `"client";q=100;w=60, "subject";q=2;w=1` {
		t.Fatalf("RateLimit-Policy %q", got)
	}
	e.call(http.MethodGet, "/orders/2", tok, nil)
	e.upstreamSaw()
	w = e.call(http.MethodGet, "/orders/3", tok, nil)
	rateLimited(t, w, "1")
	if e.upstreamSaw() != nil {
		t.Fatal("limited request proxied")
	}
	// Another subject of the same client still passes.
	if w := e.call(http.MethodGet, "/orders/4", e.token(map[string]any{"sub": "bob", "jti": "t2"}), nil); w.Code != http.StatusOK {
		t.Fatalf("bob: %d %s", w.Code, w.Body)
	}
}
