package authz

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardauth/ward/pkce"
)

// TestAuthorizeNeverRedirectsUntrusted: a bad client_id or redirect_uri
// shows an error page and never redirects (RFC 6749 §4.1.2.1, RFC 9700
// §4.11 open redirectors).
func TestAuthorizeNeverRedirectsUntrusted(t *testing.T) {
	h := newHarness(t)
	ch := pkce.Challenge(strings.Repeat("a", 43))
	tests := map[string]url.Values{
		"unknown client":         authParams("nobody", webRedirect, ch),
		"missing client":         authParams("", webRedirect, ch),
		"unregistered redirect":  authParams("web", "https://evil.example/cb", ch),
		"missing redirect":       authParams("web", "", ch),
		"javascript redirect":    authParams("web", "javascript:alert(1)", ch),
		"trailing slash":         authParams("web", webRedirect+"/", ch),
		"userinfo":               authParams("web", "https://app.example@evil.example/cb", ch),
		"redirect of other":      authParams("web", spaRedirect, ch),
		"bad request and client": authParams("nobody", "https://evil.example/cb", ""),
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			r := h.newBrowser().get(h.issuer + PathAuthorize + "?" + p.Encode())
			if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
				t.Fatalf("got %d Location %q, want 400 error page", r.status, r.header.Get("Location"))
			}
			if !bytes.Contains(r.body, []byte(`id="error-code"`)) {
				t.Errorf("no error page: %s", r.body)
			}
		})
	}
}

// TestAuthorizeErrorsCarryIssAndState: every error sent to a verified
// redirect URI carries iss (RFC 9207 §2) and state.
func TestAuthorizeErrorsCarryIssAndState(t *testing.T) {
	h := newHarness(t)
	v, _ := pkce.NewVerifier()
	ch := pkce.Challenge(v)
	mod := func(f func(url.Values)) url.Values {
		p := authParams("web", webRedirect, ch)
		f(p)
		return p
	}
	tests := []struct {
		name, code string
		p          url.Values
	}{
		{"implicit", "unsupported_response_type", mod(func(p url.Values) { p.Set("response_type", "token") })},
		{"id_token", "unsupported_response_type", mod(func(p url.Values) { p.Set("response_type", "code id_token") })},
		{"no response_type", "invalid_request", mod(func(p url.Values) { p.Del("response_type") })},
		{"no challenge", "invalid_request", mod(func(p url.Values) { p.Del("code_challenge"); p.Del("code_challenge_method") })},
		{"plain", "invalid_request", mod(func(p url.Values) { p.Set("code_challenge_method", "plain") })},
		{"method omitted", "invalid_request", mod(func(p url.Values) { p.Del("code_challenge_method") })},
		{"bad challenge", "invalid_request", mod(func(p url.Values) { p.Set("code_challenge", "short") })},
		{"scope", "invalid_scope", mod(func(p url.Values) { p.Set("scope", "read admin") })},
		{"resource", "invalid_target", mod(func(p url.Values) { p.Set("resource", "https://evil.example") })},
		{"dpop_jkt", "invalid_request", mod(func(p url.Values) { p.Set("dpop_jkt", "not-a-thumbprint") })},
		{"response_mode", "invalid_request", mod(func(p url.Values) { p.Set("response_mode", "fragment") })},
		{"prompt none", "login_required", mod(func(p url.Values) { p.Set("prompt", "none") })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := redirectQuery(t, h.newBrowser().get(h.issuer+PathAuthorize+"?"+tt.p.Encode()))
			if q.Get("error") != tt.code || q.Get("iss") != h.issuer || q.Get("state") != "st-web" {
				t.Fatalf("got %v, want error=%s with iss and state", q, tt.code)
			}
			if tt.name == "implicit" && !strings.Contains(q.Get("error_description"), "OAuth 2.1") {
				t.Errorf("description %q does not say OAuth 2.1 removed it", q.Get("error_description"))
			}
		})
	}
	t.Run("access denied", func(t *testing.T) {
		b := h.newBrowser()
		r := b.get(h.issuer + PathAuthorize + "?" + authParams("web", webRedirect, ch).Encode())
		r = b.consent(b.login(r, "alice", testPassword), "deny")
		q := redirectQuery(t, r)
		if q.Get("error") != "access_denied" || q.Get("iss") != h.issuer || q.Get("state") != "st-web" {
			t.Fatalf("got %v", q)
		}
	})
	t.Run("POST", func(t *testing.T) {
		b := h.newBrowser()
		r := b.postForm(h.issuer+PathAuthorize, mod(func(p url.Values) { p.Set("response_type", "token") }))
		if q := redirectQuery(t, r); q.Get("error") != "unsupported_response_type" || q.Get("iss") != h.issuer {
			t.Fatalf("got %v", q)
		}
	})
}
