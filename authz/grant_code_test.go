package authz

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/wardauth/ward/pkce"
)

// TestCodeRules: codes are single use, at most 60 s, bound to the client,
// the redirect URI, the PKCE challenge and dpop_jkt (OAuth 2.1 §4.1.3,
// RFC 7636 §4.6, RFC 9449 §10).
func TestCodeRules(t *testing.T) {
	h := newHarness(t)
	b := h.newBrowser()
	s := h.newSigner()
	other := h.newSigner()
	tests := []struct {
		name  string
		extra url.Values
		do    func(code, verifier string) *response
		code  string
	}{
		{"wrong verifier", nil, func(c, _ string) *response {
			v, _ := pkce.NewVerifier()
			return h.exchange("web", c, v, webRedirect, s)
		}, "invalid_grant"},
		{"missing verifier", nil, func(c, _ string) *response { return h.exchange("web", c, "", webRedirect, s) }, "invalid_request"},
		{"other client", nil, func(c, v string) *response { return h.exchange("post", c, v, webRedirect, s) }, "invalid_grant"},
		{"other redirect_uri", nil, func(c, v string) *response { return h.exchange("web", c, v, webRedirect+"/x", s) }, "invalid_grant"},
		{"no redirect_uri", nil, func(c, v string) *response { return h.exchange("web", c, v, "", s) }, "invalid_grant"},
		{"expired after 60s", nil, func(c, v string) *response {
			h.clk.Advance(61 * time.Second)
			return h.exchange("web", c, v, webRedirect, s)
		}, "invalid_grant"},
		{"dpop_jkt other key", url.Values{"dpop_jkt": {s.Thumbprint()}}, func(c, v string) *response { return h.exchange("web", c, v, webRedirect, other) }, "invalid_dpop_proof"},
		{"dpop_jkt no proof", url.Values{"dpop_jkt": {s.Thumbprint()}}, func(c, v string) *response { return h.exchange("web", c, v, webRedirect, nil) }, "invalid_dpop_proof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, v := h.code(b, "web", webRedirect, tt.extra)
			wantError(t, tt.do(c, v), http.StatusBadRequest, tt.code)
		})
	}
	t.Run("other client leaves the code to its owner", func(t *testing.T) {
		c, v := h.code(b, "web", webRedirect, nil)
		wantError(t, h.exchange("post", c, v, webRedirect, s), http.StatusBadRequest, "invalid_grant")
		wantToken(t, h.exchange("web", c, v, webRedirect, s))
	})
	t.Run("used code from other client revokes nothing", func(t *testing.T) {
		// Only the owner can have redeemed the code, so a replay by
		// another client is refused without ending the owner's grant.
		c, v := h.code(b, "web", webRedirect, nil)
		r := h.exchange("web", c, v, webRedirect, s)
		wantToken(t, r)
		wantError(t, h.exchange("post", c, v, webRedirect, s), http.StatusBadRequest, "invalid_grant")
		if in := h.introspect(r.str("access_token")); in.json["active"] != true {
			t.Fatalf("the owner's token was revoked by another client's replay: %s", in.body)
		}
	})
	t.Run("dpop_jkt same key", func(t *testing.T) {
		c, v := h.code(b, "web", webRedirect, url.Values{"dpop_jkt": {s.Thumbprint()}})
		wantToken(t, h.exchange("web", c, v, webRedirect, s))
	})
}

// TestCodeReplayRevokesTokens: a second redemption fails and revokes the
// access and refresh tokens issued from the code (RFC 9700 §4.5).
func TestCodeReplayRevokesTokens(t *testing.T) {
	h := newHarness(t)
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	r := h.exchange("web", c, v, webRedirect, s)
	wantToken(t, r)
	at, rt := r.str("access_token"), r.str("refresh_token")
	if in := h.introspect(at); in.json["active"] != true {
		t.Fatalf("fresh token inactive: %s", in.body)
	}
	wantError(t, h.exchange("web", c, v, webRedirect, s), http.StatusBadRequest, "invalid_grant")
	for name, tok := range map[string]string{"access": at, "refresh": rt} {
		if in := h.introspect(tok); in.json["active"] != false {
			t.Errorf("%s token still active after code replay: %s", name, in.body)
		}
	}
	wantError(t, h.refresh("web", rt, s), http.StatusBadRequest, "invalid_grant")
}
