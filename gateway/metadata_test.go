package gateway_test

import (
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/resource"
)

var update = flag.Bool("update", false, "rewrite golden files")

// metadataRoutes are routes with three resource identifiers (the public
// URL, a route's own audience under it, a route's audience on another
// host), a route whose audience is no URL, and a public route.
func metadataRoutes(g *config.Gateway) {
	up := g.Routes[0].Upstream // newEnv's recording upstream
	{
		g.Routes = []config.Route{
			{Name: "orders", PathPrefix: "/orders/", Upstream: up, Audience: publicURL + "/orders", Scopes: []string{"orders:read"},
				Policy: []config.PolicyRule{
					{Action: "deny", Paths: []string{"/orders/admin/*"}, Scopes: []string{"ignored:deny"}},
					{Action: "allow", Principals: []string{"client:app"}, Methods: []string{"POST"}, Scopes: []string{"orders:write"}},
					{Action: "allow", Principals: []string{"client:app"}, Methods: []string{"GET"}},
				}},
			{Name: "demo", PathPrefix: "/demo/", Upstream: config.BuiltinDemo, Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"*"}}}},
			{Name: "profile", PathPrefix: "/profile/", Upstream: up, Scopes: []string{"profile"}, Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"*"}}}},
			{Name: "legacy", Host: "legacy.example", PathPrefix: "/api/", Upstream: up, Audience: "https://legacy.example/api", AllowBearer: true,
				Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"*"}}}},
			{Name: "urn", PathPrefix: "/urn/", Upstream: up, Audience: "urn:example:thing", Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"*"}}}},
			{Name: "public", PathPrefix: "/", Upstream: up, Unauthenticated: true},
		}
	}
}

// newMetadataEnv is newEnv with metadataRoutes.
func newMetadataEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, metadataRoutes)
}

// get sends GET u (absolute) to the gateway without credentials.
func (e *env) get(u string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, u, nil))
	return w
}

// golden compares got with testdata/metadata/name.json (rewritten with
// -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%s: not JSON: %s", name, got)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	pretty = append(pretty, '\n')
	path := filepath.Join("testdata", "metadata", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pretty, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != string(pretty) {
		t.Errorf("%s differs from %s:\n%s", name, path, pretty)
	}
}

// TestProtectedResourceMetadata: the gateway serves an RFC 9728 document
// for every resource identifier its token-checking routes use, at the
// well-known URL built from it (§3.1), with the route's scopes (its own
// and its policy's allow rules), the issuer, header-only tokens, the DPoP
// algorithms and whether DPoP is required (not where a route accepts
// bearer tokens). Unknown well-known paths are 404 and never proxied.
func TestProtectedResourceMetadata(t *testing.T) {
	e := newMetadataEnv(t)
	for name, u := range map[string]string{
		"root":   publicURL + "/.well-known/oauth-protected-resource",
		"orders": publicURL + "/.well-known/oauth-protected-resource/orders",
		"legacy": "https://legacy.example/.well-known/oauth-protected-resource/api",
	} {
		t.Run(name, func(t *testing.T) {
			w := e.get(u)
			if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("GET %s: %d %q %s", u, w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			golden(t, name, w.Body.Bytes())
		})
	}
	for _, u := range []string{
		publicURL + "/.well-known/oauth-protected-resource/nothing",
		publicURL + "/.well-known/oauth-protected-resource/urn",
		publicURL + "/.well-known/oauth-protected-resource/orders/more",
		"https://other.example/.well-known/oauth-protected-resource/api", // legacy's path on a host the gateway does not serve
	} {
		w := e.get(u)
		if strings.HasSuffix(u, "/api") {
			if w.Code != http.StatusBadRequest { // unknown host, refused before any document
				t.Errorf("GET %s: %d, want 400", u, w.Code)
			}
			continue
		}
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", u, w.Code)
		}
		if h := e.upstreamSaw(); h != nil {
			t.Errorf("GET %s reached the upstream", u)
		}
	}
	w := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, publicURL+"/.well-known/oauth-protected-resource", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", w.Code)
	}
}

var resourceMetadataParam = regexp.MustCompile(`resource_metadata="([^"]*)"`)

// TestChallengeMetadataConsistent: every token-checking route's
// challenge names, in resource_metadata, a URL the gateway serves, whose
// document's resource is the route's audience, from which that URL is
// built (RFC 9728 §3.3), on the origin of the request and a prefix of its
// path; a route whose audience is no URL names none.
func TestChallengeMetadataConsistent(t *testing.T) {
	e := newMetadataEnv(t)
	for _, tc := range []struct{ name, url, resource string }{
		{"orders", publicURL + "/orders/1", publicURL + "/orders"},
		{"demo", publicURL + "/demo/whoami", publicURL},
		{"profile", publicURL + "/profile/me", publicURL},
		{"legacy", "https://legacy.example/api/x", "https://legacy.example/api"},
		{"urn", publicURL + "/urn/x", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.get(tc.url)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("no token: %d", w.Code)
			}
			m := resourceMetadataParam.FindStringSubmatch(strings.Join(w.Header().Values("WWW-Authenticate"), ", "))
			if tc.resource == "" {
				if m != nil {
					t.Fatalf("challenge names metadata %q for an audience that is no URL", m[1])
				}
				return
			}
			if m == nil {
				t.Fatalf("no resource_metadata in %q", w.Header().Values("WWW-Authenticate"))
			}
			mw := e.get(m[1])
			var doc resource.Metadata
			if mw.Code != http.StatusOK || json.Unmarshal(mw.Body.Bytes(), &doc) != nil {
				t.Fatalf("GET %s: %d %s", m[1], mw.Code, mw.Body)
			}
			if doc.Resource != tc.resource || resource.ResourceMetadataURL(doc.Resource) != m[1] {
				t.Fatalf("document at %s names resource %q, want %q (the URL's own)", m[1], doc.Resource, tc.resource)
			}
			if !strings.HasPrefix(tc.url, doc.Resource+"/") {
				t.Errorf("resource %q is not a prefix of the request URL %s", doc.Resource, tc.url)
			}
		})
	}
}

// TestProtectedResourceMetadataMTLS: with client certificates, the
// document says certificate-bound tokens are supported, so DPoP is no
// longer required (RFC 8705 §3 tokens need none).
func TestProtectedResourceMetadataMTLS(t *testing.T) {
	m := newMTLSEnv(t, true, nil)
	w := m.env.get(publicURL + "/.well-known/oauth-protected-resource")
	var doc resource.Metadata
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &doc) != nil {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if !doc.TLSClientCertificateBoundAccessTokens || doc.DPoPBoundAccessTokensRequired {
		t.Fatalf("document %s: want tls_client_certificate_bound_access_tokens true, dpop_bound_access_tokens_required false", w.Body)
	}
}

// TestAuthorizerServesMetadata: on its own listener the forward-auth
// endpoint also serves the routes' RFC 9728 documents, the same bytes the
// gateway serves, so a proxy in front can pass the well-known path to it;
// any other path there is still a forward-auth call.
func TestAuthorizerServesMetadata(t *testing.T) {
	e := newEnv(t, func(c *config.Gateway) {
		metadataRoutes(c)
		withAuthorizer(c)
		c.Authorizer.Listen = "127.0.0.1:0"
	})
	h := e.gw.AuthorizerHandler()
	for _, u := range []string{publicURL + "/.well-known/oauth-protected-resource/orders", "https://legacy.example/.well-known/oauth-protected-resource/api"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, u, nil))
		if want := e.get(u); w.Code != http.StatusOK || w.Body.String() != want.Body.String() {
			t.Errorf("GET %s at the authorizer: %d %s, want the gateway's %d %s", u, w.Code, w.Body, want.Code, want.Body)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, publicURL+"/orders/1", nil)) // a trusted peer, no proxy headers
	if w.Code != http.StatusBadRequest {
		t.Errorf("forward-auth call naming no original request: %d, want 400", w.Code)
	}
}
