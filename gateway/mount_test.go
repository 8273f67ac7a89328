package gateway_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/demo"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/resource"
)

func mountGateway(t *testing.T, h http.Handler, mod func(*config.Gateway)) (*gateway.Gateway, error) {
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.Issuer, cfg.PublicURL = true, issuerURL, publicURL
	cfg.Routes = []config.Route{{Name: "site", PathPrefix: "/", Upstream: config.BuiltinDemo, Unauthenticated: true}}
	if mod != nil {
		mod(&cfg)
	}
	return gateway.New(&cfg, gateway.Options{
		Keys:      resource.StaticKeys{},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Mounts:    []gateway.Mount{{Name: "bff-app", Host: "gw.example", PathPrefix: "/bff", Handler: h}},
		Upstreams: demo.Builtins(),
	})
}

// A mount is served by the gateway itself: host and prefix matched like
// a route, path cleaned first (an ambiguous one never reaches it), the
// gateway's security headers and metrics, and its own answer.
func TestMounts(t *testing.T) {
	var got []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	})
	gw, err := mountGateway(t, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(target string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		gw.Handler().ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		return w
	}
	w := serve("https://gw.example/bff/user")
	if w.Code != 200 || len(got) != 1 || got[0] != "/bff/user" {
		t.Fatalf("mount not served: %d %v", w.Code, got)
	}
	if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Strict-Transport-Security") == "" {
		t.Fatalf("no security headers on a mount's answer: %v", w.Header())
	}
	for _, target := range []string{"https://gw.example/bff/a/../user", "https://gw.example/bff/%2e%2e/user", "https://gw.example/bff//user"} {
		if w := serve(target); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400 before the mount", target, w.Code)
		}
	}
	if len(got) != 1 {
		t.Fatalf("an ambiguous path reached the mount: %v", got)
	}
	// Another host, or a path beside the prefix, goes to the routes.
	serve("https://other.example/bff/user")
	serve("https://gw.example/bffx")
	if len(got) != 1 {
		t.Fatalf("the mount served another host or prefix: %v", got)
	}
	m := httptest.NewRecorder()
	gw.AdminHandler().ServeHTTP(m, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(m.Body.String(), `outcome="mount",route="bff-app"`) {
		t.Fatalf("no metrics for the mount:\n%s", grep(m.Body.String(), "ward_gateway_requests_total"))
	}

	// A name shared with a route is refused.
	if _, err := mountGateway(t, h, func(c *config.Gateway) { c.Routes[0].Name = "bff-app" }); !errors.Is(err, gateway.ErrConfig) {
		t.Fatalf("duplicate name: %v", err)
	}
	// A change of the bff section needs a restart.
	if err := gw.Reload(func() *config.Gateway {
		c := config.DefaultGateway()
		c.Enabled, c.Issuer, c.PublicURL = true, issuerURL, publicURL
		c.Routes = []config.Route{{Name: "site", PathPrefix: "/", Upstream: config.BuiltinDemo, Unauthenticated: true}}
		c.BFF = []config.BFF{{Name: "x"}}
		return &c
	}()); err == nil {
		t.Fatal("reload changed the bff section")
	}
}

// The gateway's per-IP tier covers a mount: a login flood is cut at the
// front door.
func TestMountRateLimited(t *testing.T) {
	calls := 0
	gw, err := mountGateway(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ }), func(c *config.Gateway) {
		c.RateLimits.IP = config.Rate{Rate: 3, Period: time.Minute}
	})
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	for range 5 {
		w := httptest.NewRecorder()
		gw.Handler().ServeHTTP(w, httptest.NewRequest("GET", "https://gw.example/bff/login", nil))
		codes = append(codes, w.Code)
	}
	if calls != 3 || codes[3] != http.StatusTooManyRequests || codes[4] != http.StatusTooManyRequests {
		t.Fatalf("answers %v, %d calls; want 3 served then 429", codes, calls)
	}
}
