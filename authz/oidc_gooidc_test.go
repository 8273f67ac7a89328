package authz

import (
	"context"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestGoOIDCVerifiesIDToken: a real relying party library. go-oidc
// discovers Ward (/.well-known/openid-configuration, issuer match), and
// verifies the ID token golang.org/x/oauth2 obtained with code, PKCE S256
// and DPoP: signature from the JWKS, iss, aud, exp, the nonce it sent,
// and at_hash against the access token.
func TestGoOIDCVerifiesIDToken(t *testing.T) {
	h := newHarness(t)
	ctx := oidc.ClientContext(context.Background(), h.srv.Client())
	provider, err := oidc.NewProvider(ctx, h.issuer)
	if err != nil {
		t.Fatal(err)
	}
	signer := h.newSigner()
	ep := provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams
	conf := &oauth2.Config{ClientID: "spa", Endpoint: ep, RedirectURL: "http://127.0.0.1:49152/cb",
		Scopes: []string{oidc.ScopeOpenID, "read"}}
	verifier, nonce := oauth2.GenerateVerifier(), "go-oidc-nonce-1"
	authURL := conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce),
		oauth2.SetAuthURLParam("dpop_jkt", signer.Thumbprint()))
	b := h.newBrowser()
	q := redirectQuery(t, b.consent(b.login(b.get(authURL), "alice", testPassword), "allow"))

	dctx, _ := h.dpopContext(signer)
	tok, err := conf.Exchange(dctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" || tok.TokenType != "DPoP" {
		t.Fatalf("token response: id_token %q, token_type %q", raw, tok.TokenType)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: "spa", Now: h.clk.Now}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc refused Ward's ID token: %v", err)
	}
	if idt.Nonce != nonce || idt.Subject != "u-alice" || idt.Issuer != h.issuer {
		t.Fatalf("ID token: nonce %q sub %q iss %q", idt.Nonce, idt.Subject, idt.Issuer)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	// Another client's verifier refuses it (aud).
	if _, err := provider.Verifier(&oidc.Config{ClientID: "web", Now: h.clk.Now}).Verify(ctx, raw); err == nil {
		t.Fatal("go-oidc accepted the ID token for another client")
	}
}
