package authz

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/wardauth/ward/pkce"
)

// TestHSTS: over TLS with an https issuer, every response of the
// authorization server — pages, JSON endpoints, errors, redirects, unknown
// paths — carries Strict-Transport-Security with a max-age of at least a
// year (RFC 6797), set in one middleware; "off" removes it, and an http
// issuer never sends it.
func TestHSTS(t *testing.T) {
	h := newHarness(t)
	v, _ := pkce.NewVerifier()
	b := h.newBrowser()
	login := b.get(h.issuer + PathAuthorize + "?" + authParams("web", webRedirect, pkce.Challenge(v)).Encode())
	consent := b.login(login, "alice", testPassword)
	get := func(path string) *response {
		req, _ := http.NewRequest(http.MethodGet, h.issuer+path, nil)
		return h.do(b.c, req)
	}
	responses := map[string]*response{
		"login page":         login,
		"consent page":       consent,
		"metadata":           get(PathMetadata),
		"jwks":               get(PathJWKS),
		"stylesheet":         get(PathStatic + "ward.css"),
		"authorize error":    get(PathAuthorize + "?client_id=nobody"),
		"authorize redirect": get(PathAuthorize + "?" + authParams("web", webRedirect, pkce.Challenge(v)).Encode()),
		"unknown path":       get("/nothing-here"),
		"token error":        h.post(PathToken, url.Values{"grant_type": {"client_credentials"}}),
		"par":                h.post(PathPAR, authParams("web", webRedirect, pkce.Challenge(v)), h.basic("web")...),
		"revoke":             h.post(PathRevoke, url.Values{"token": {"x"}}, h.basic("web")...),
		"introspect":         h.post(PathIntrospect, url.Values{"token": {"x"}}, h.basic("web")...),
	}
	for name, r := range responses {
		got := r.header.Values("Strict-Transport-Security")
		if len(got) != 1 {
			t.Errorf("%s (%d): Strict-Transport-Security %q, want one", name, r.status, got)
			continue
		}
		age, ok := strings.CutPrefix(got[0], "max-age=")
		if n, err := strconv.Atoi(strings.Split(age, ";")[0]); !ok || err != nil || n < 365*24*3600 {
			t.Errorf("%s: Strict-Transport-Security %q, want max-age of at least a year", name, got[0])
		}
	}

	t.Run("off", func(t *testing.T) {
		h := newHarness(t, func(c *configT) { c.AuthorizationServer.HSTS = "off" })
		req, _ := http.NewRequest(http.MethodGet, h.issuer+PathMetadata, nil)
		if got := h.do(h.srv.Client(), req).header.Get("Strict-Transport-Security"); got != "" {
			t.Fatalf("hsts off: %q", got)
		}
	})
	t.Run("configured value", func(t *testing.T) {
		const val = "max-age=63072000; includeSubDomains"
		h := newHarness(t, func(c *configT) { c.AuthorizationServer.HSTS = val })
		req, _ := http.NewRequest(http.MethodGet, h.issuer+PathMetadata, nil)
		if got := h.do(h.srv.Client(), req).header.Get("Strict-Transport-Security"); got != val {
			t.Fatalf("got %q, want %q", got, val)
		}
	})
	t.Run("http issuer", func(t *testing.T) {
		h.cfg.Issuer = "http://127.0.0.1:9000"
		defer func() { h.cfg.Issuer = h.issuer }()
		s := h.newServer()
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathMetadata, nil))
		if got := rec.Header().Get("Strict-Transport-Security"); got != "" {
			t.Fatalf("http issuer sent %q", got)
		}
	})
}
