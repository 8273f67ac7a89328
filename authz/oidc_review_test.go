package authz

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// TestConsentPageKeepsLoginRules: the consent page, opened directly with
// the sealed flow of a request that needs a new login (max_age exceeded,
// prompt=login, or an id_token_hint naming another user), sends the
// browser to the login page and never answers with a code for the old
// session (OIDC Core §3.1.2.1: the OP MUST re-authenticate). The consent
// handler once checked only that a session existed, so replacing /login
// by /consent in the URL skipped the login the relying party asked for.
func TestConsentPageKeepsLoginRules(t *testing.T) {
	h := newHarness(t)
	alice := h.newBrowser()
	h.oidcTokens(alice, oidcExtra("")) // alice logged in, consented
	bob := h.bobBrowser()
	aliceIDT := func() string {
		r, _ := h.oidcTokens(h.newBrowser(), oidcExtra(""))
		return r.str("id_token")
	}()
	h.clk.Advance(10 * time.Minute)
	cases := []struct {
		name string
		b    *browser
		kv   []string
	}{
		{"max_age", alice, []string{"max_age", "60"}},
		{"prompt=login", alice, []string{"prompt", "login"}},
		{"id_token_hint for another user", bob, []string{"id_token_hint", aliceIDT}},
	}
	for _, tc := range cases {
		v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
		for k, vals := range oidcExtra("", tc.kv...) {
			v[k] = vals
		}
		lr := tc.b.get(h.issuer + PathAuthorize + "?" + v.Encode())
		if !bytes.Contains(lr.body, []byte(`name="password"`)) {
			t.Fatalf("%s: no login page (%d)", tc.name, lr.status)
		}
		flow := hidden(lr.body).Get("flow")
		cr := tc.b.get(h.issuer + PathConsent + "?" + url.Values{"flow": {flow}}.Encode())
		if bytes.Contains(cr.body, []byte(`name="decision"`)) {
			// Had the page been shown, allow answers with a code for the
			// session the request refused.
			q := redirectQuery(t, tc.b.consent(cr, "allow"))
			t.Fatalf("%s: the consent page skipped the login: %v", tc.name, q)
		}
		if cr.status != http.StatusOK || !bytes.Contains(cr.body, []byte(`name="password"`)) {
			t.Fatalf("%s: /consent with the flow: %d, want the login page", tc.name, cr.status)
		}
	}
	// Bob logs in during the flow of a hint for alice: login_required,
	// and the consent page with that flow does not answer for bob.
	hv := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	for k, vals := range oidcExtra("", "id_token_hint", aliceIDT) {
		hv[k] = vals
	}
	lr := bob.get(h.issuer + PathAuthorize + "?" + hv.Encode())
	hflow := hidden(lr.body).Get("flow")
	if q := redirectQuery(t, bob.login(lr, "bob", testPassword)); q.Get("error") != oauth.LoginRequired {
		t.Fatalf("hint for alice, bob logged in: %v", q)
	}
	cr := bob.get(h.issuer + PathConsent + "?" + url.Values{"flow": {hflow}}.Encode())
	if bytes.Contains(cr.body, []byte(`name="decision"`)) {
		t.Fatalf("hint for alice, bob logged in during the flow: the consent page answers for bob: %v", redirectQuery(t, bob.consent(cr, "allow")))
	}
	// Either answer keeps bob out: the login page again (the flow's own
	// login was not this session, flow.Login) or login_required.
	if !(cr.status == http.StatusOK && bytes.Contains(cr.body, []byte(`name="password"`))) {
		if q := redirectQuery(t, cr); q.Get("error") != oauth.LoginRequired {
			t.Fatalf("hint for alice, bob at /consent: %v", q)
		}
	}
	// Under prompt=none the flow never has a page: login_required.
	v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	for k, vals := range oidcExtra("", "max_age", "60") {
		v[k] = vals
	}
	flow := hidden(alice.get(h.issuer + PathAuthorize + "?" + v.Encode()).body).Get("flow")
	f, err := h.s.openFlow(flow)
	if err != nil {
		t.Fatal(err)
	}
	f.Req.Prompt = oauth.PromptNone
	sealed, _ := h.s.sealFlow(f)
	q := redirectQuery(t, alice.get(h.issuer+PathConsent+"?"+url.Values{"flow": {sealed}}.Encode()))
	if q.Get("error") != oauth.LoginRequired || q.Get("state") != "st-web" {
		t.Fatalf("prompt=none flow at /consent: %v", q)
	}
}

// TestMaxAgeBeyondDuration: a max_age too large for a time.Duration in
// nanoseconds (over about 292 years; parseMaxAge takes up to 10 digits)
// allows any login, as its value says (OIDC Core §3.1.2.1). Multiplied
// into a Duration it once overflowed to a negative age, so every session
// was too old: prompt=none answered login_required to a logged-in user.
func TestMaxAgeBeyondDuration(t *testing.T) {
	h := newHarness(t)
	b := h.newBrowser()
	h.oidcTokens(b, oidcExtra("")) // logged in, consented
	h.clk.Advance(10 * time.Minute)
	for _, ma := range []string{"9223372036", "9223372037", "9999999999"} {
		v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
		for k, vals := range oidcExtra("", "max_age", ma, "prompt", oauth.PromptNone) {
			v[k] = vals
		}
		if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+v.Encode())); q.Get("code") == "" {
			t.Errorf("max_age=%s, a 10-minute-old login, prompt=none: %v", ma, q)
		}
	}
}

// TestUILocalesSupported: discovery's ui_locales_supported names exactly
// the languages the pages are written in (OpenID Connect Discovery 1.0
// §3). It once said "en" alone while the pages spoke French and German
// too, so a relying party reading it would not ask for them.
func TestUILocalesSupported(t *testing.T) {
	h := newHarness(t)
	got := h.s.Metadata().UILocalesSupported
	if len(got) != len(catalogue) {
		t.Fatalf("ui_locales_supported %v, catalogue has %d languages", got, len(catalogue))
	}
	for _, tag := range got {
		if _, ok := catalogue[language(tag)]; !ok {
			t.Errorf("ui_locales_supported names %q, which the pages do not speak", tag)
		}
	}
}

// TestClaimsSubValueNotAString: a claims request whose ID token sub value
// is not a non-empty string (a number, "", null is no value) names no
// user, so Ward cannot answer positively (OIDC Core §5.5.1: only for the
// user that sub identifies): invalid_request. It was once ignored, and
// the logged-in user got a code as if no sub had been asked for.
func TestClaimsSubValueNotAString(t *testing.T) {
	h := newHarness(t)
	b := h.newBrowser()
	h.oidcTokens(b, oidcExtra("")) // logged in, consented
	for _, val := range []string{`5`, `""`, `["u-alice"]`, `{"a":1}`} {
		v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
		for k, vals := range oidcExtra("", "prompt", oauth.PromptNone, "claims", `{"id_token":{"sub":{"value":`+val+`}}}`) {
			v[k] = vals
		}
		if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+v.Encode())); q.Get("error") != oauth.InvalidRequest {
			t.Errorf("sub value %s: %v", val, q)
		}
	}
}

// TestClientLogoWildcardHost: a client logo whose host is a CSP wildcard
// (https://*/logo.png, https://*.cdn.example/...) is refused when the
// client is created, and one stored past validation is not shown and does
// not widen img-src. The host once became the CSP source as is, so
// img-src 'self' https://* let the pages load images from anywhere.
func TestClientLogoWildcardHost(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for i, logo := range []string{"https://*/logo.png", "https://*.cdn.example/logo.png"} {
		c := &store.Client{ID: fmt.Sprintf("wild%d", i), AuthMethod: oauth.AuthSecretBasic, RedirectURIs: []string{webRedirect}, Scopes: []string{"read"}, LogoURI: logo,
			GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode}, SenderConstraint: store.ConstraintDPoP}
		if _, err := CreateClient(ctx, h.st, c, h.clk.Now()); err == nil {
			t.Errorf("logo %s accepted", logo)
		}
		if err := h.st.UpsertClient(ctx, c); err != nil { // past validation
			t.Fatal(err)
		}
		p := authParams(c.ID, webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
		p.Set("scope", "read")
		r := h.newBrowser().get(h.issuer + PathAuthorize + "?" + p.Encode())
		if csp := r.header.Get("Content-Security-Policy"); r.status != http.StatusOK || strings.Contains(csp, "*") || bytes.Contains(r.body, []byte("client-logo")) {
			t.Errorf("logo %s: %d %s, CSP %q", logo, r.status, r.header.Get("Location"), csp)
		}
	}
}
