package authz

import (
	"net/http"
	"net/url"
	"testing"
)

// TestRevokeOnlyOwnTokens: RFC 7009 §2.1, a client revokes only its own
// tokens; another client's revocation answers 200 (§2.2) and does nothing.
func TestRevokeOnlyOwnTokens(t *testing.T) {
	h := newHarness(t)
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	tok := h.exchange("web", c, v, webRedirect, s)
	wantToken(t, tok)
	at, rt := tok.str("access_token"), tok.str("refresh_token")
	rs := h.addClient("rs-api", testAPI)
	for _, hint := range []string{"", "refresh_token", "access_token"} {
		for _, tk := range []string{rt, at} {
			if r := h.post(PathRevoke, url.Values{"token": {tk}, "token_type_hint": {hint}}, rs...); r.status != http.StatusOK {
				t.Fatalf("revoke by another client: %d %s", r.status, r.body)
			}
		}
	}
	if r := h.post(PathIntrospect, url.Values{"token": {at}}, h.basic("web")...); r.json["active"] != true {
		t.Fatalf("another client revoked the access token: %s", r.body)
	}
	wantToken(t, h.refresh("web", rt, s))
}
