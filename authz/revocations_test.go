package authz

import (
	"context"
	"github.com/wardauth/ward/oauth"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/wardauth/ward/revocation"
	"github.com/wardauth/ward/store"
)

// TestRevocationFeed: /revocations lists an access token revoked at
// /revoke (its jti and exp) and a grant revoked with its refresh token
// (the grant_id its access tokens carry), to a client registered with the
// scope ward:revocations only; the cursor skips what was read.
func TestRevocationFeed(t *testing.T) {
	h := newHarness(t)
	feed := store.Client{ID: "feed", AuthMethod: oauth.AuthSecretBasic, GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials},
		Scopes: []string{revocation.ScopeRevocations}}
	secret, err := CreateClient(context.Background(), h.st, &feed, h.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	h.secrets["feed"] = secret
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	tok := h.exchange("web", c, v, webRedirect, s)
	wantToken(t, tok)
	at, rt := tok.str("access_token"), tok.str("refresh_token")
	_, claims := decodeJWT(t, at)

	read := func(since string, auth ...string) *response {
		t.Helper()
		return h.post(PathRevocations, url.Values{"since": {since}}, auth...)
	}
	if r := read(""); r.status != http.StatusUnauthorized || r.json["error"] != "invalid_client" {
		t.Fatalf("no client: %d %s", r.status, r.body)
	}
	if r := read("", h.basic("web")...); r.status != http.StatusBadRequest || r.json["error"] != "unauthorized_client" {
		t.Fatalf("client without the scope: %d %s", r.status, r.body)
	}
	if r := read("yesterday", h.basic("feed")...); r.status != http.StatusBadRequest || r.json["error"] != "invalid_request" {
		t.Fatalf("bad cursor: %d %s", r.status, r.body)
	}
	if r := read("", h.basic("feed")...); r.status != http.StatusOK {
		t.Fatalf("empty feed: %d %s", r.status, r.body)
	} else if p, err := revocation.DecodePage(r.body); err != nil || len(p.Entries) != 0 {
		t.Fatalf("empty feed: %+v %v", p, err)
	}

	h.post(PathRevoke, url.Values{"token": {at}, "token_type_hint": {"access_token"}}, h.basic("web")...)
	h.clk.Advance(time.Second)
	h.post(PathRevoke, url.Values{"token": {rt}}, h.basic("web")...)
	r := read("", h.basic("feed")...)
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("feed: %d %v %s", r.status, r.header, r.body)
	}
	p, err := revocation.DecodePage(r.body)
	if err != nil || len(p.Entries) != 2 || p.More {
		t.Fatalf("feed: %+v %v (%s)", p, err, r.body)
	}
	jti, grant := p.Entries[0], p.Entries[1]
	if jti.JTI != claims["jti"] || jti.Expires.Unix() != int64(claims["exp"].(float64)) {
		t.Errorf("access token entry %+v, token claims %v", jti, claims)
	}
	if grant.GrantID == "" || grant.GrantID != claims["grant_id"] || !grant.Expires.Equal(grant.RevokedAt.Add(time.Hour)) {
		t.Errorf("grant entry %+v, token's grant_id %v", grant, claims["grant_id"])
	}
	// From a cursor after the jti (revoked a second before the grant;
	// revoked_at on the wire is rounded down): the grant only.
	next := revocation.Cursor(grant.RevokedAt)
	r = read(next.String(), h.basic("feed")...)
	if p, err := revocation.DecodePage(r.body); err != nil || len(p.Entries) != 1 || p.Entries[0].GrantID != grant.GrantID {
		t.Fatalf("from the cursor: %+v %v", p, err)
	}
}
