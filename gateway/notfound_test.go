package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/gateway"
)

// TestNoRouteAnswer: a request no route matches gets the gateway's own
// JSON 404 (error no_route) with the X-Ward-Error header, on the proxy,
// on an unknown well-known path and in Decide; an upstream's own 404
// passes through without either, so the two are told apart, even when
// the upstream sets the header itself.
func TestNoRouteAnswer(t *testing.T) {
	lost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(gateway.NoRouteHeader, gateway.ErrorNoRoute) // posing as the gateway
		http.Error(w, "upstream says no", http.StatusNotFound)
	}))
	t.Cleanup(lost.Close)
	e := newEnv(t, func(c *config.Gateway) {
		c.Routes = append(c.Routes, config.Route{Name: "lost", PathPrefix: "/lost/", Upstream: lost.URL, Unauthenticated: true})
	})
	for _, path := range []string{"/nowhere", "/.well-known/oauth-protected-resource/nowhere"} {
		w := e.call("GET", path, "", nil)
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: body %q: %v", path, w.Body, err)
		}
		if w.Code != 404 || w.Header().Get("Content-Type") != "application/json" ||
			body.Error != gateway.ErrorNoRoute || body.Description == "" || w.Header().Get(gateway.NoRouteHeader) != gateway.ErrorNoRoute {
			t.Errorf("%s: %d %v %s", path, w.Code, w.Header(), w.Body)
		}
	}
	d := e.gw.Decide(e.decideReq("GET", publicURL+"/nowhere", "", ""))
	if d.Status != 404 || d.Header.Get(gateway.NoRouteHeader) != gateway.ErrorNoRoute || d.ContentType != "application/json" {
		t.Errorf("Decide: %+v %s", d, d.Body)
	}
	w := e.call("GET", "/lost/x", "", nil)
	if w.Code != 404 || w.Header().Get(gateway.NoRouteHeader) != "" || w.Body.String() != "upstream says no\n" {
		t.Errorf("upstream 404: %d %v %q", w.Code, w.Header(), w.Body)
	}
}
