package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wardauth/ward/config"
)

// A route allowing GET and POST refuses DELETE; a POST (or GET, on the
// direct path) carrying a method override naming DELETE is forwarded as
// what the policy checked, without the override.
func TestMethodOverrideAgainstPolicy(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(map[string]any{"scope": "orders:read orders:write"})
	if w := e.call(http.MethodDelete, "/orders/1", tok, nil); w.Code != http.StatusForbidden {
		t.Fatalf("DELETE: %d, want 403", w.Code)
	}
	for _, m := range []string{http.MethodPost, http.MethodGet} {
		for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
			w := e.call(m, "/orders/1", tok, map[string]string{h: "DELETE"})
			up := e.upstreamSaw()
			if w.Code != http.StatusOK || up == nil {
				t.Fatalf("%s with %s: %d, want 200 forwarded", m, h, w.Code)
			}
			if v := up.Values(h); len(v) != 0 {
				t.Errorf("%s with %s: the upstream received it: %q", m, h, v)
			}
		}
	}
}

// A Host that names no route's host nor public_url's is refused with 400
// before any route is matched; the upstream never sees a client-chosen
// X-Forwarded-Host.
func TestUnknownHostRefused(t *testing.T) {
	e := newEnv(t, func(c *config.Gateway) {
		c.Routes = append(c.Routes, config.Route{Name: "other", Host: "API.Other.example", PathPrefix: "/", Upstream: c.Routes[1].Upstream, Unauthenticated: true})
	})
	for _, tc := range []struct {
		host string
		want int
	}{
		{"evil.example", http.StatusBadRequest},
		{"gw.example.evil.example", http.StatusBadRequest},
		{"", http.StatusBadRequest},
		{"gw.example", http.StatusOK},
		{"GW.Example.:443", http.StatusOK},
		{"api.other.example", http.StatusOK},
	} {
		r := httptest.NewRequest(http.MethodGet, publicURL+"/public/x", nil)
		r.Host = tc.host
		w := httptest.NewRecorder()
		e.gw.Handler().ServeHTTP(w, r)
		up := e.upstreamSaw()
		if w.Code != tc.want || (up != nil) != (tc.want == http.StatusOK) {
			t.Errorf("Host %q: %d (upstream reached: %v), want %d", tc.host, w.Code, up != nil, tc.want)
		}
		if up != nil && up.Get("X-Forwarded-Host") != tc.host {
			t.Errorf("Host %q: upstream X-Forwarded-Host %q", tc.host, up.Get("X-Forwarded-Host"))
		}
	}

	// A loopback public_url (ward serve --dev) answers to every literal
	// loopback name, and still refuses a DNS name (rebinding).
	loop := newEnv(t, func(c *config.Gateway) { c.PublicURL = "http://127.0.0.1:9001" })
	for host, want := range map[string]int{
		"127.0.0.1:9001": http.StatusOK, "localhost:9001": http.StatusOK, "[::1]:9001": http.StatusOK,
		"rebind.evil.example:9001": http.StatusBadRequest, "127.0.0.2:9001": http.StatusBadRequest,
	} {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9001/public/x", nil)
		r.Host = host
		w := httptest.NewRecorder()
		loop.gw.Handler().ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("loopback public_url, Host %q: %d, want %d", host, w.Code, want)
		}
	}

	// No public_url and no route host (behind a TLS proxy that checks the
	// host): any host is served.
	open := newEnv(t, func(c *config.Gateway) { c.PublicURL, c.Audience = "", publicURL })
	r := httptest.NewRequest(http.MethodGet, "http://anything.example/public/x", nil)
	w := httptest.NewRecorder()
	open.gw.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("no host configured: %d, want 200", w.Code)
	}
}

// Paths whose decoded bytes are not UTF-8 are refused with 400 at the
// front door, for routes and mounts alike.
func TestPathNotUTF8Refused(t *testing.T) {
	e := newEnv(t, nil)
	reached := 0
	mgw, err := mountGateway(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ }), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/%c0%ae%c0%ae/x", "/%ff", "/caf%C3", "/%ed%a0%80", "/%c0%af"} {
		for _, gw := range []http.Handler{e.gw.Handler(), mgw.Handler()} {
			for _, prefix := range []string{"/public", "/bff"} {
				w := httptest.NewRecorder()
				gw.ServeHTTP(w, httptest.NewRequest(http.MethodGet, publicURL+prefix+p, nil))
				if w.Code != http.StatusBadRequest {
					t.Errorf("%s%s: %d, want 400", prefix, p, w.Code)
				}
			}
		}
	}
	if e.upstreamSaw() != nil || reached != 0 {
		t.Fatal("a path that is not UTF-8 was forwarded")
	}
	w := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, publicURL+"/public/caf%C3%A9", nil))
	if up := e.upstreamSaw(); w.Code != http.StatusOK || up == nil || up.Get("X-Test-Path") != "/public/caf%C3%A9" {
		t.Fatalf("UTF-8 path: %d, upstream path %q", w.Code, up.Get("X-Test-Path"))
	}
}

// A method override in the query (?_method=DELETE, read by Symfony,
// Laravel and Express's method-override) is refused with 400 on a route
// with a policy, before authentication; an open route, which checks no
// method, forwards it.
func TestMethodOverrideQueryAgainstPolicy(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(map[string]any{"scope": "orders:read orders:write"})
	for _, q := range []string{"?_method=DELETE", "?a=1&.method=DELETE", "?%5Fmethod=DELETE", "?X-HTTP-Method-Override=DELETE"} {
		for _, m := range []string{http.MethodPost, http.MethodGet} {
			if w := e.call(m, "/orders/1"+q, tok, nil); w.Code != http.StatusBadRequest || e.upstreamSaw() != nil {
				t.Errorf("%s /orders/1%s: %d, want 400 not forwarded", m, q, w.Code)
			}
		}
	}
	if w := e.call(http.MethodGet, "/orders/1?method=x", tok, nil); w.Code != http.StatusOK || e.upstreamSaw() == nil {
		t.Errorf("a parameter named method: %d, want 200 forwarded", w.Code)
	}
	if w := e.call(http.MethodGet, "/public/x?_method=DELETE", "", nil); w.Code != http.StatusOK || e.upstreamSaw() == nil {
		t.Errorf("open route: %d, want 200 forwarded", w.Code)
	}
}
