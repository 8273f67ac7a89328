package authz

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/store"
)

// introspectAs asks about tok as the client of auth, with an Accept
// header when accept is not empty.
func (h *harness) introspectAs(tok, accept string, auth []string) *response {
	h.t.Helper()
	hdr := append([]string(nil), auth...)
	if accept != "" {
		hdr = append(hdr, "Accept", accept)
	}
	return h.post(PathIntrospect, url.Values{"token": {tok}}, hdr...)
}

// introspectionJWTOf checks a JWT introspection response (RFC 9701 §5):
// content type, header exactly alg, kid and typ token-introspection+jwt,
// claims exactly iss, aud (the caller), iat and token_introspection; it
// returns token_introspection.
func (h *harness) introspectionJWTOf(t *testing.T, r *response, caller string) map[string]any {
	t.Helper()
	if r.status != http.StatusOK || r.header.Get("Content-Type") != mediaTypeIntrospectionJWT || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("JWT introspection: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	hdr, cl := h.verifyServerJWS(t, string(r.body), jose.ES256)
	if got := keysOf(hdr); !reflect.DeepEqual(got, []string{"alg", "kid", "typ"}) || hdr["typ"] != typIntrospectionJWT || hdr["alg"] != "ES256" {
		t.Errorf("header %v", hdr)
	}
	if got := keysOf(cl); !reflect.DeepEqual(got, []string{"aud", "iat", "iss", "token_introspection"}) {
		t.Errorf("claims %v", got)
	}
	if cl["iss"] != h.issuer || cl["aud"] != caller || cl["iat"] != float64(h.clk.Now().Unix()) {
		t.Errorf("claims %v", cl)
	}
	ti, _ := cl["token_introspection"].(map[string]any)
	if _, err := h.s.parseAccessToken(string(r.body), h.clk.Now()); err == nil {
		t.Error("a JWT introspection response passes as an access token")
	}
	return ti
}

// TestIntrospectionJWT: with Accept: application/token-introspection+jwt
// the answer is the plain answer, member for member, signed for the
// caller (RFC 9701 §5) — for an active token, for an unknown one, and for
// a caller that may not see the token ({"active":false} inside, signed):
// never more than the plain response tells that caller.
func TestIntrospectionJWT(t *testing.T) {
	h := newHarness(t)
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	tok := h.exchange("web", c, v, webRedirect, h.newSigner())
	wantToken(t, tok)
	at, rt := tok.str("access_token"), tok.str("refresh_token")
	rs := h.addClient("rs-api", testAPI)
	stranger := h.addClient("rs-elsewhere", "https://elsewhere.example")
	for _, tc := range []struct {
		name, tok, caller string
		auth              []string
		active            bool
	}{
		{"access token, own client", at, "web", h.basic("web"), true},
		{"access token, resource server", at, "rs-api", rs, true},
		{"refresh token, own client", rt, "web", h.basic("web"), true},
		{"access token, stranger", at, "rs-elsewhere", stranger, false},
		{"refresh token, resource server", rt, "rs-api", rs, false},
		{"unknown token", "nope", "rs-api", rs, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain := h.introspectAs(tc.tok, "", tc.auth)
			ti := h.introspectionJWTOf(t, h.introspectAs(tc.tok, mediaTypeIntrospectionJWT, tc.auth), tc.caller)
			if !reflect.DeepEqual(ti, plain.json) {
				t.Errorf("signed %v, plain %v", ti, plain.json)
			}
			if ti["active"] != tc.active || !tc.active && len(ti) != 1 {
				t.Errorf("token_introspection %v, want active %v", ti, tc.active)
			}
		})
	}
}

// TestIntrospectionJWTNegotiation: plain JSON unless the Accept header
// prefers the JWT (RFC 9701 §4); an unauthenticated caller gets the
// plain 401 whatever it accepts.
func TestIntrospectionJWTNegotiation(t *testing.T) {
	h := newHarness(t)
	for _, a := range []string{"", "application/json", "*/*", mediaTypeIntrospectionJWT + ";q=0",
		"application/json, " + mediaTypeIntrospectionJWT + ";q=0.5", "application/token-introspection+JWTX", mediaTypeIntrospectionJWT + ";q=NaN"} {
		if r := h.introspectAs("nope", a, h.basic("web")); r.header.Get("Content-Type") != "application/json" || r.json["active"] != false {
			t.Errorf("Accept %q: %q %s", a, r.header.Get("Content-Type"), r.body)
		}
	}
	for _, a := range []string{mediaTypeIntrospectionJWT, "application/json;q=0.9, " + mediaTypeIntrospectionJWT,
		"text/html, Application/Token-Introspection+JWT", "application/jwt, " + mediaTypeIntrospectionJWT + ";q=1"} {
		if r := h.introspectAs("nope", a, h.basic("web")); r.header.Get("Content-Type") != mediaTypeIntrospectionJWT {
			t.Errorf("Accept %q: %q %s", a, r.header.Get("Content-Type"), r.body)
		}
	}
	r := h.introspectAs("nope", mediaTypeIntrospectionJWT, []string{"Authorization", "Basic d2ViOndyb25n"})
	wantError(t, r, http.StatusUnauthorized, oauth.InvalidClient)
}

// TestIntrospectionJWTClientAlgorithm: introspection_signed_response_alg
// RS256 (RFC 9701 §6) signs with the RSA key published at /jwks.
func TestIntrospectionJWTClientAlgorithm(t *testing.T) {
	h := newHarness(t)
	c := store.Client{ID: "rs-rsa", AuthMethod: oauth.AuthSecretBasic, GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials},
		Scopes: []string{"read"}, Audiences: []string{testAPI}, IntrospectionSignedResponseAlg: store.AlgRS256}
	secret, err := CreateClient(context.Background(), h.st, &c, h.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	h.secrets["rs-rsa"] = secret
	r := h.introspectAs("nope", mediaTypeIntrospectionJWT, h.basic("rs-rsa"))
	hdr, cl := h.verifyServerJWS(t, string(r.body), jose.RS256)
	if hdr["alg"] != "RS256" || cl["aud"] != "rs-rsa" {
		t.Errorf("RS256 introspection %v %v", hdr, cl)
	}
}

// TestIntrospectionJWTResourceVerifier: resource.RemoteIntrospector with
// SignedResponse asks Ward for the JWT response and verifies it with the
// keys of /jwks: active for a resource server of the token's audience,
// inactive for another one, and a verifier expecting another issuer
// refuses the answer.
func TestIntrospectionJWTResourceVerifier(t *testing.T) {
	h := newHarness(t)
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	tok := h.exchange("web", c, v, webRedirect, h.newSigner())
	wantToken(t, tok)
	h.addClient("rs-api", testAPI)
	h.addClient("rs-elsewhere", "https://elsewhere.example")
	set := h.s.km.JWKS(h.clk.Now())
	ri := func(id, issuer string) *resource.RemoteIntrospector {
		return &resource.RemoteIntrospector{Endpoint: h.issuer + PathIntrospect, ClientID: id, ClientSecret: h.secrets[id],
			Client: h.srv.Client(), SignedResponse: &resource.IntrospectionJWTVerifier{
				Issuer: issuer, ClientID: id, Keys: resource.StaticKeys(set), Clock: h.clk.Now}}
	}
	in, err := ri("rs-api", h.issuer).Introspect(context.Background(), tok.str("access_token"))
	if err != nil || !in.Active || in.ClientID != "web" || in.Subject != "u-alice" || in.JKT == "" {
		t.Fatalf("resource server of the audience: %+v %v", in, err)
	}
	in, err = ri("rs-elsewhere", h.issuer).Introspect(context.Background(), tok.str("access_token"))
	if err != nil || in.Active {
		t.Fatalf("another resource server: %+v %v", in, err)
	}
	if _, err := ri("rs-api", "https://other.example").Introspect(context.Background(), tok.str("access_token")); !errors.Is(err, resource.ErrIntrospectionJWT) {
		t.Fatalf("another issuer's verifier: %v", err)
	}
}

// FuzzWantsIntrospectionJWT: no Accept header panics the negotiation,
// and the JWT is chosen only when the header names its media type.
func FuzzWantsIntrospectionJWT(f *testing.F) {
	for _, s := range []string{"", mediaTypeIntrospectionJWT, "application/json", "*/*;q=0.1, " + mediaTypeIntrospectionJWT + ";q=0.2",
		mediaTypeIntrospectionJWT + ";q=nan", mediaTypeIntrospectionJWT + ";q=-1", "a/b;;;q=1,,,", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		if wantsIntrospectionJWT([]string{accept}) && !strings.Contains(strings.ToLower(accept), mediaTypeIntrospectionJWT) {
			t.Fatalf("JWT chosen for %q", accept)
		}
	})
}
