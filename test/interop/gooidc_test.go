package interop

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/wardauth/ward/client"
)

// TestGoOIDCOverSockets: github.com/coreos/go-oidc/v3 verifies the ID
// token that golang.org/x/oauth2 obtained from Ward over real sockets, as
// a confidential web client would: OpenID Connect discovery (issuer
// match), code + PKCE S256 + dpop_jkt, the code redeemed through the SDK's
// DPoP transport (with Ward's use_dpop_nonce round), then the signature
// from the JWKS, iss, aud, exp, the nonce sent and at_hash; another
// client's verifier refuses the token, and so does Ward's own SDK
// verifier when the nonce differs. Once for an ES256 client (Ward's
// default) and once for an RS256 one.
func TestGoOIDCOverSockets(t *testing.T) {
	w := serveWard(t)
	for _, tc := range []struct{ client, alg string }{{rpClient, "ES256"}, {rpClient + "-rs256", "RS256"}} {
		t.Run(tc.alg, func(t *testing.T) { goOIDCLogin(t, w, tc.client, tc.alg) })
	}
}

func goOIDCLogin(t *testing.T, w *served, clientID, alg string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, w.issuer)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := client.NewTransport()
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: clientID, ClientSecret: w.secret, Endpoint: provider.Endpoint(),
		RedirectURL: rpCallback, Scopes: []string{oidc.ScopeOpenID, "profile"}}
	verifier, nonce := oauth2.GenerateVerifier(), "go-oidc-"+oauth2.GenerateVerifier()[:16]
	authURL := conf.AuthCodeURL("st-go", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce),
		oauth2.SetAuthURLParam("dpop_jkt", tr.Thumbprint()))
	final, _, err := newUserBrowser(w.issuer).visit(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if q := final.Query(); q.Get("state") != "st-go" || q.Get("iss") != w.issuer {
		t.Fatalf("redirect %s", final)
	}
	dctx := context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: tr, Timeout: 10 * time.Second})
	tok, err := conf.Exchange(dctx, final.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" || tok.TokenType != "DPoP" {
		t.Fatalf("token response: id_token %q, token_type %q", raw, tok.TokenType)
	}
	if hdr, _ := decodeJWT(t, raw); hdr["alg"] != alg {
		t.Fatalf("ID token alg %v, want %s", hdr["alg"], alg)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc refused Ward's ID token: %v", err)
	}
	if idt.Nonce != nonce || idt.Subject != testSubject || idt.Issuer != w.issuer {
		t.Fatalf("ID token: nonce %q sub %q iss %q", idt.Nonce, idt.Subject, idt.Issuer)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: "another-client"}).Verify(ctx, raw); err == nil {
		t.Fatal("go-oidc accepted the ID token for another client")
	}
	// Ward's SDK verifier agrees with go-oidc, and refuses another nonce.
	var md struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&md); err != nil {
		t.Fatal(err)
	}
	sdk := client.NewIDTokenVerifier(w.issuer, clientID, client.NewRemoteKeySet(md.JWKSURI, nil))
	if _, err := sdk.Verify(ctx, raw, client.Expect{Nonce: nonce, AccessToken: tok.AccessToken, RequireAtHash: true}); err != nil {
		t.Fatalf("the SDK refused what go-oidc accepted: %v", err)
	}
	if _, err := sdk.Verify(ctx, raw, client.Expect{Nonce: nonce + "x", AccessToken: tok.AccessToken}); err == nil {
		t.Fatal("the SDK accepted another nonce")
	}
}
