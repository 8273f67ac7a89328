package authz

import (
	"context"
	"github.com/wardauth/ward/oauth"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
)

// addClient registers a confidential client_credentials client with its
// own audiences and returns its Basic header.
func (h *harness) addClient(id string, audiences ...string) []string {
	h.t.Helper()
	c := store.Client{ID: id, AuthMethod: oauth.AuthSecretBasic, GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials},
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

// TestIntrospectAndRevoke: RFC 7662 with cnf for bound tokens; RFC 7009
// revocation of access tokens and of a refresh token's family.
func TestIntrospectAndRevoke(t *testing.T) {
	h := newHarness(t)
	s := h.newSigner()
	r := h.token("svc", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, s)
	at := r.str("access_token")
	in := h.introspect(at)
	cnf, _ := in.json["cnf"].(map[string]any)
	if in.json["active"] != true || in.str("client_id") != "svc" || in.str("scope") != "read" || cnf["jkt"] != s.Thumbprint() || in.str("token_type") != "DPoP" {
		t.Fatalf("introspection %s", in.body)
	}
	if in.header.Get("Cache-Control") != "no-store" {
		t.Error("introspection cacheable")
	}
	// Public clients may not introspect.
	wantError(t, h.post(PathIntrospect, url.Values{"token": {at}, "client_id": {"spa"}}), http.StatusUnauthorized, "invalid_client")
	wantError(t, h.post(PathIntrospect, url.Values{"token": {at}}), http.StatusUnauthorized, "invalid_client")
	// Unknown token: inactive.
	if in := h.introspect("garbage"); in.json["active"] != false || len(in.json) != 1 {
		t.Fatalf("garbage: %s", in.body)
	}
	// Another client revoking does nothing, the owner revokes.
	if r := h.post(PathRevoke, url.Values{"token": {at}}, h.basic("web")...); r.status != 200 {
		t.Fatalf("revoke: %d", r.status)
	}
	if in := h.introspect(at); in.json["active"] != true {
		t.Fatal("another client revoked the token")
	}
	if r := h.post(PathRevoke, url.Values{"token": {at}, "client_id": {"svc"}, "client_secret": {h.secrets["svc"]}}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if in := h.introspect(at); in.json["active"] != false {
		t.Fatal("revoked access token active")
	}
	// Expired: inactive.
	r = h.token("svc", url.Values{"grant_type": {"client_credentials"}}, s)
	h.clk.Advance(11 * time.Minute)
	if in := h.introspect(r.str("access_token")); in.json["active"] != false {
		t.Fatal("expired access token active")
	}
	// Refresh token revocation revokes the family.
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	tok := h.exchange("web", c, v, webRedirect, s)
	if r := h.post(PathRevoke, url.Values{"token": {tok.str("refresh_token")}, "token_type_hint": {"refresh_token"}}, h.basic("web")...); r.status != 200 {
		t.Fatalf("revoke: %d", r.status)
	}
	wantError(t, h.refresh("web", tok.str("refresh_token"), s), http.StatusBadRequest, "invalid_grant")
	if in := h.introspect(tok.str("access_token")); in.json["active"] != false {
		t.Fatal("access token of a revoked grant active")
	}
	// Unknown token: 200 (RFC 7009 §2.2).
	if r := h.post(PathRevoke, url.Values{"token": {"nope"}}, h.basic("web")...); r.status != 200 {
		t.Fatalf("revoke unknown: %d", r.status)
	}
}

// TestIntrospectionUsername: the token's own client learns the user's
// login name (RFC 7662 §2.2 username), for its access and refresh tokens;
// a resource server that may see the access token learns the subject
// only.
func TestIntrospectionUsername(t *testing.T) {
	h := newHarness(t)
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	tok := h.exchange("web", c, v, webRedirect, h.newSigner())
	rs := h.addClient("rs-api", testAPI)
	for name, tc := range map[string]struct {
		tok  string
		auth []string
		want string
	}{
		"own access token":  {tok.str("access_token"), h.basic("web"), "alice"},
		"own refresh token": {tok.str("refresh_token"), h.basic("web"), "alice"},
		"resource server":   {tok.str("access_token"), rs, ""},
	} {
		r := h.post(PathIntrospect, url.Values{"token": {tc.tok}}, tc.auth...)
		if r.json["active"] != true || r.str("username") != tc.want {
			t.Errorf("%s: %s, want username %q", name, r.body, tc.want)
		}
		if _, has := r.json["username"]; tc.want == "" && has {
			t.Errorf("%s: username present: %s", name, r.body)
		}
	}
}
