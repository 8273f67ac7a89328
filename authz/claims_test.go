package authz

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/wardauth/ward/pkce"
)

// TestConsentClaims: the consent page's plain words follow the scopes
// and the claims request (both of its members), and say nothing without
// openid.
func TestConsentClaims(t *testing.T) {
	for _, tc := range []struct {
		scope, req string
		want       []string
	}{
		{"read", "", nil},
		{"openid", "", []string{"an identifier for your account"}},
		{"openid email", "", []string{"an identifier for your account", "your email address"}},
		{"openid profile", "", []string{"an identifier for your account", "your name and username",
			"your profile details (picture, web pages, gender, date of birth)", "your language and time zone"}},
		{"openid", `{"userinfo":{"phone_number":{"essential":true}},"id_token":{"address":null}}`,
			[]string{"an identifier for your account", "your phone number", "your postal address"}},
	} {
		if got := consentClaims(tc.scope, tc.req); !slices.Equal(got, tc.want) {
			t.Errorf("%q %s: got %q, want %q", tc.scope, tc.req, got, tc.want)
		}
	}
}

// TestConsentPageShowsClaims: the consent page lists, in words, what the
// client will receive.
func TestConsentPageShowsClaims(t *testing.T) {
	h := newOIDCHarness(t)
	v, _ := pkce.NewVerifier()
	p := authParams("rp", spaRedirect, pkce.Challenge(v))
	p.Set("scope", "openid email")
	b := h.newBrowser()
	r := b.login(b.get(h.issuer+PathAuthorize+"?"+p.Encode()), "alice", testPassword)
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`name="decision"`)) {
		t.Fatalf("no consent page: %d %s", r.status, r.body)
	}
	for _, w := range []string{"<li>your email address</li>", "<li>an identifier for your account</li>"} {
		if !bytes.Contains(r.body, []byte(w)) {
			t.Errorf("consent page lacks %q", w)
		}
	}
	if bytes.Contains(r.body, []byte("your phone number")) {
		t.Error("consent page names a claim not requested")
	}
}
