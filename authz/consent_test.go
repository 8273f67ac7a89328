package authz

import (
	"bytes"
	"context"
	"github.com/wardauth/ward/oauth"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/store"
)

// TestConsentRememberedAndRevocable: consent is remembered per client and
// scope; a wider scope asks again; revoking it asks again and revokes the
// client's grants.
func TestConsentRememberedAndRevocable(t *testing.T) {
	h := newHarness(t)
	v, _ := pkce.NewVerifier()
	b := h.newBrowser()
	p := authParams("web", webRedirect, pkce.Challenge(v))
	p.Set("scope", "read")
	h.authorize(b, p)
	r := b.get(h.issuer + PathAuthorize + "?" + p.Encode())
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), webRedirect) {
		t.Fatalf("remembered consent still asked: %d", r.status)
	}
	q, _ := url.ParseQuery(strings.SplitN(r.header.Get("Location"), "?", 2)[1])
	tok := h.exchange("web", q.Get("code"), v, webRedirect, h.newSigner())
	wantToken(t, tok)
	p.Set("scope", "read write")
	if r := b.get(h.issuer + PathAuthorize + "?" + p.Encode()); !bytes.Contains(r.body, []byte(`name="decision"`)) {
		t.Fatalf("wider scope did not ask: %d", r.status)
	}
	if err := h.s.RevokeConsent(context.Background(), "u-alice", "web"); err != nil {
		t.Fatal(err)
	}
	p.Set("scope", "read")
	if r := b.get(h.issuer + PathAuthorize + "?" + p.Encode()); !bytes.Contains(r.body, []byte(`name="decision"`)) {
		t.Fatalf("revoked consent did not ask: %d", r.status)
	}
	if in := h.introspect(tok.str("refresh_token")); in.json["active"] != false {
		t.Error("grant survives consent revocation")
	}
	// prompt=consent always asks.
	h.authorize(b, p)
	p.Set("prompt", "consent")
	if r := b.get(h.issuer + PathAuthorize + "?" + p.Encode()); !bytes.Contains(r.body, []byte(`name="decision"`)) {
		t.Fatal("prompt=consent did not ask")
	}
}

// TestConsentEveryTimeForUnprovenRedirects: a public client whose redirect
// URI cannot prove its identity (loopback on any port, a private-use
// scheme) gets the consent page on every authorization, remembered consent
// or not, and prompt=none gets consent_required instead of a code (RFC
// 8252 §8.6, RFC 6749 §10.2): otherwise any local process listening on a
// loopback port could take a code from a browser with a session. An
// operator may opt a client out (AllowRememberedConsent); an https
// redirect URI and confidential clients keep remembered consent
// (TestConsentRememberedAndRevocable).
func TestConsentEveryTimeForUnprovenRedirects(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const native = "com.example.app:/cb"
	if _, err := CreateClient(ctx, h.st, &store.Client{ID: "native", AuthMethod: oauth.AuthNone, RedirectURIs: []string{native},
		GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode}, Scopes: []string{"read"}, Audiences: []string{testAPI}}, h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	v, _ := pkce.NewVerifier()
	for _, tc := range []struct{ client, redirect string }{
		{"spa", "http://127.0.0.1:49152/cb"},
		{"native", native},
	} {
		t.Run(tc.client, func(t *testing.T) {
			b := h.newBrowser()
			p := authParams(tc.client, tc.redirect, pkce.Challenge(v))
			p.Set("scope", "read")
			if q := h.authorize(b, p); q.Get("code") == "" {
				t.Fatalf("first authorization: %v", q)
			}
			if r := b.get(h.issuer + PathAuthorize + "?" + p.Encode()); !bytes.Contains(r.body, []byte(`name="decision"`)) {
				t.Fatalf("remembered consent gave a %d %s without interaction", r.status, r.header.Get("Location"))
			}
			p.Set("prompt", "none")
			q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+p.Encode()))
			if q.Get("error") != "consent_required" || q.Get("code") != "" || q.Get("iss") != h.issuer {
				t.Fatalf("prompt=none: %v", q)
			}
		})
	}
	t.Run("opted out", func(t *testing.T) {
		c, err := h.st.GetClient(ctx, "spa")
		if err != nil {
			t.Fatal(err)
		}
		c.AllowRememberedConsent = true
		if err := h.st.UpsertClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		h.s.ForgetClient("spa")
		b := h.newBrowser()
		p := authParams("spa", spaRedirect, pkce.Challenge(v))
		h.authorize(b, p)
		p.Set("prompt", "none")
		if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+p.Encode())); q.Get("code") == "" {
			t.Fatalf("opted-out client: %v", q)
		}
	})
}
