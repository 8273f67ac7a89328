package gateway_test

import (
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/wardauth/ward/config"
)

// TestPolicyMethodCase: a method is a case-sensitive token (RFC 9110
// §9.1), but some upstreams read it in any case (gunicorn before 22
// upper-cases it, Express routes on the lower-cased name). "delete" must
// meet a deny rule written for DELETE, and "get" an allow rule for GET.
func TestPolicyMethodCase(t *testing.T) {
	e := newEnv(t, func(c *config.Gateway) {
		c.Routes = append([]config.Route{{Name: "items", PathPrefix: "/items/", Upstream: c.Routes[0].Upstream, Policy: []config.PolicyRule{
			{Action: "deny", Methods: []string{"DELETE"}},
			{Action: "allow", Principals: []string{"client:app"}},
		}}}, c.Routes...)
	})
	for i, c := range []struct {
		method string
		status int
	}{{"DELETE", 403}, {"delete", 403}, {"Delete", 403}, {"get", 200}} {
		tok := e.token(map[string]any{"jti": "mc" + c.method})
		if w := e.call(c.method, "/items/1", tok, nil); w.Code != c.status {
			t.Errorf("%d: %s: %d, want %d: %s", i, c.method, w.Code, c.status, w.Body)
		}
	}
}

// TestRouteHostTrailingDot: a route whose host is written with the DNS
// root's dot (api.example.) is the route for Host api.example, as the
// host check reads it; the request never falls to an any-host route.
func TestRouteHostTrailingDot(t *testing.T) {
	e := newEnv(t, func(c *config.Gateway) {
		up := c.Routes[0].Upstream
		c.Routes = append([]config.Route{
			{Name: "api", Host: "api.example.", PathPrefix: "/x/", Upstream: up, Policy: []config.PolicyRule{{Action: "deny"}}},
			{Name: "open", PathPrefix: "/x/", Upstream: up, Unauthenticated: true},
		}, c.Routes...)
	})
	for _, host := range []string{"api.example", "api.example.", "API.example:443"} {
		r := httptest.NewRequest("GET", "https://"+host+"/x/1", nil)
		w := httptest.NewRecorder()
		e.gw.Handler().ServeHTTP(w, r)
		if w.Code != 401 {
			t.Errorf("Host %s: %d, want 401 from the api route: %s", host, w.Code, w.Body)
		}
	}
}

// TestDecideWardCookies: the reverse proxy never forwards Ward's cookies
// (a BFF session is the user's tokens); an allowed Decision tells a
// front door the same: the Cookie header without them, or Cookie in
// Remove when none is left.
func TestDecideWardCookies(t *testing.T) {
	e := newEnv(t, nil)
	for i, c := range []struct{ cookie, want string }{
		{"ward-session=s; theme=dark; __Host-ward-bff-shop=b", "theme=dark"},
		{"ward-session=s", ""},
	} {
		r := e.decideReq("GET", publicURL+"/orders/1", publicURL+"/orders/1", e.token(map[string]any{"jti": "wc" + c.want}))
		r.Header.Set("Cookie", c.cookie)
		d := e.gw.Decide(r)
		if !d.Allowed {
			t.Fatalf("%d: %+v %s", i, d, d.Body)
		}
		if got := d.Header.Get("Cookie"); got != c.want {
			t.Errorf("%d: Cookie %q, want %q", i, got, c.want)
		}
		if removed := slices.Contains(d.Remove, "Cookie"); removed != (c.want == "") {
			t.Errorf("%d: Cookie in Remove %v", i, removed)
		}
	}
}
