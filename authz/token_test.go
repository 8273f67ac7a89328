package authz

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/pkce"
)

// code runs a browser flow for clientID and returns a code and its
// verifier. extra overrides authorization parameters.
func (h *harness) code(b *browser, clientID, redirect string, extra url.Values) (string, string) {
	h.t.Helper()
	v, _ := pkce.NewVerifier()
	p := authParams(clientID, redirect, pkce.Challenge(v))
	for k, vals := range extra {
		p[k] = vals
	}
	q := h.authorize(b, p)
	if q.Get("code") == "" {
		h.t.Fatalf("no code: %v", q)
	}
	return q.Get("code"), v
}

// auth adds clientID's credentials to a token request.
func (h *harness) auth(clientID string, form url.Values) []string {
	form.Set("client_id", clientID)
	switch clientID {
	case "web", "bearer", "mtls", "rpbearer", "pwconf":
		form.Del("client_id")
		return h.basic(clientID)
	case "post", "svc":
		form.Set("client_secret", h.secrets[clientID])
	default:
		if h.secrets[clientID] != "" { // clients tests add: basic
			form.Del("client_id")
			return h.basic(clientID)
		}
	}
	return nil
}

// token posts to /token as clientID with an optional DPoP signer.
func (h *harness) token(clientID string, form url.Values, s *dpop.Signer, opts ...dpop.ProofOption) *response {
	h.t.Helper()
	hdr := h.auth(clientID, form)
	if s != nil {
		hdr = append(hdr, "DPoP", h.proof(s, opts...))
	}
	return h.post(PathToken, form, hdr...)
}

func (h *harness) exchange(clientID, code, verifier, redirect string, s *dpop.Signer) *response {
	h.t.Helper()
	return h.token(clientID, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect}}, s)
}

func (h *harness) refresh(clientID, rt string, s *dpop.Signer, extra ...string) *response {
	h.t.Helper()
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return h.token(clientID, f, s)
}

func (h *harness) introspect(tok string) *response {
	h.t.Helper()
	return h.post(PathIntrospect, url.Values{"token": {tok}}, h.basic("web")...)
}

func wantError(t *testing.T, r *response, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, code)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("error response Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
	}
}

func wantToken(t *testing.T, r *response) {
	t.Helper()
	if r.status != http.StatusOK || r.str("access_token") == "" {
		t.Fatalf("got %d %s, want a token", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store (RFC 6749 §5.1)", r.header.Get("Cache-Control"))
	}
}

func withSecret(f url.Values, id string, h *harness) url.Values {
	g := url.Values{}
	for k, v := range f {
		g[k] = v
	}
	g.Set("client_id", id)
	g.Set("client_secret", h.secrets[id])
	return g
}

// TestTokenRequestRules: grant types, scopes, resources, removed grants.
func TestTokenRequestRules(t *testing.T) {
	h := newHarness(t)
	s := h.newSigner()
	tests := []struct {
		name, client string
		form         url.Values
		status       int
		code         string
	}{
		{"password grant", "web", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}}, 400, "unsupported_grant_type"},
		{"unknown grant", "web", url.Values{"grant_type": {"urn:x"}}, 400, "unsupported_grant_type"},
		{"no grant", "web", url.Values{}, 400, "invalid_request"},
		{"scope not allowed", "svc", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, 400, "invalid_scope"},
		{"resource not allowed", "svc", url.Values{"grant_type": {"client_credentials"}, "resource": {"https://evil.example"}}, 400, "invalid_target"},
		{"resource with fragment", "svc", url.Values{"grant_type": {"client_credentials"}, "resource": {testAPI + "#x"}}, 400, "invalid_target"},
		{"grant not registered", "svc", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, 400, "unauthorized_client"},
		{"public client_credentials", "spa", url.Values{"grant_type": {"client_credentials"}}, 400, "unauthorized_client"},
		{"duplicate parameter", "svc", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.token(tt.client, tt.form, s)
			wantError(t, r, tt.status, tt.code)
			if tt.name == "password grant" && !strings.Contains(r.str("error_description"), "OAuth 2.1") {
				t.Errorf("description %q does not say OAuth 2.1 removed it", r.str("error_description"))
			}
		})
	}
	t.Run("scopes and resource allowed", func(t *testing.T) {
		r := h.token("svc", url.Values{"grant_type": {"client_credentials"}, "scope": {"read write read"}, "resource": {testAPI}}, s)
		wantToken(t, r)
		if _, cl := decodeJWT(t, r.str("access_token")); cl["scope"] != "read write" || cl["aud"] != testAPI {
			t.Errorf("claims %v", cl)
		}
	})
}

// countingStore fails the test on any write the client-credentials grant
// must not make.
type countingStore struct {
	storeT
	writes atomic.Int32
}
