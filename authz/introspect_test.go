package authz

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/wardauth/ward/store"
)

// addClient registers a confidential client_credentials client with its
// own audiences and returns its Basic header.
func (h *harness) addClient(id string, audiences ...string) []string {
	h.t.Helper()
	c := store.Client{ID: id, AuthMethod: AuthSecretBasic, GrantTypes: []string{GrantClientCredentials},
		Scopes: []string{"read"}, Audiences: audiences}
	secret, err := CreateClient(context.Background(), h.st, &c, h.clk.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	h.secrets[id] = secret
	return h.basic(id)
}

// wantInactive checks the RFC 7662 §2.2 answer for a token the caller may
// not see: exactly {"active":false}, as for an unknown token.
func wantInactive(t *testing.T, what string, r *response) {
	t.Helper()
	if r.status != http.StatusOK || r.json["active"] != false || len(r.json) != 1 {
		t.Errorf("%s: %d %s, want 200 {\"active\":false}", what, r.status, r.body)
	}
}

// TestIntrospectionIsForTheTokensClientOrResource: a refresh token
// introspects active only for its own client (RFC 6749 §10.4, RFC 7662
// §4), an access token for its own client and for resource servers whose
// registered audiences it carries; any other confidential client gets
// {"active":false}, the answer for an unknown token.
func TestIntrospectionIsForTheTokensClientOrResource(t *testing.T) {
	h := newHarness(t)
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	tok := h.exchange("web", c, v, webRedirect, s)
	wantToken(t, tok)
	at, rt := tok.str("access_token"), tok.str("refresh_token")
	ask := func(tok string, auth []string) *response {
		return h.post(PathIntrospect, url.Values{"token": {tok}}, auth...)
	}
	rs := h.addClient("rs-api", testAPI)
	stranger := h.addClient("rs-elsewhere", "https://elsewhere.example")

	t.Run("refresh token, own client", func(t *testing.T) {
		if r := ask(rt, h.basic("web")); r.json["active"] != true || r.str("client_id") != "web" {
			t.Errorf("own refresh token: %s", r.body)
		}
	})
	t.Run("refresh token, another client", func(t *testing.T) {
		wantInactive(t, "another confidential client", ask(rt, h.basic("bearer")))
		wantInactive(t, "resource server of the token's audience", ask(rt, rs))
	})
	t.Run("access token, own client", func(t *testing.T) {
		if r := ask(at, h.basic("web")); r.json["active"] != true {
			t.Errorf("own access token: %s", r.body)
		}
	})
	t.Run("access token, resource server of its audience", func(t *testing.T) {
		if r := ask(at, rs); r.json["active"] != true || r.str("client_id") != "web" {
			t.Errorf("resource server: %s", r.body)
		}
	})
	t.Run("access token, client of another audience", func(t *testing.T) {
		wantInactive(t, "stranger", ask(at, stranger))
	})
}

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
