package authz

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/store"
)

// oidcExtra are extra authorization parameters that ask for OpenID
// Connect with the given nonce (none when empty) and kv's parameters.
func oidcExtra(nonce string, kv ...string) url.Values {
	v := url.Values{"scope": {"openid read"}}
	if nonce != "" {
		v.Set("nonce", nonce)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// oidcTokens runs a browser flow for client web with extra and redeems
// the code with a DPoP key: the token response.
func (h *harness) oidcTokens(b *browser, extra url.Values) (*response, *dpop.Signer) {
	h.t.Helper()
	code, v := h.code(b, "web", webRedirect, extra)
	s := h.newSigner()
	r := h.exchange("web", code, v, webRedirect, s)
	if r.status != http.StatusOK {
		h.t.Fatalf("token: %d %s", r.status, r.body)
	}
	return r, s
}

// verifyIDToken checks an ID token's signature with the published JWKS,
// as a relying party would, and returns its header and claims.
func (h *harness) verifyIDToken(tok string) (jose.Header, map[string]any) {
	h.t.Helper()
	obj, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		h.t.Fatalf("ID token: %v", err)
	}
	var set jose.JSONWebKeySet
	jr := h.do(h.srv.Client(), mustReq(h.t.(*testing.T), h.issuer+PathJWKS))
	if err := json.Unmarshal(jr.body, &set); err != nil {
		h.t.Fatal(err)
	}
	hdr := obj.Signatures[0].Header
	ks := set.Key(hdr.KeyID)
	if len(ks) != 1 {
		h.t.Fatalf("kid %q not in the JWKS", hdr.KeyID)
	}
	payload, err := obj.Verify(ks[0].Key)
	if err != nil {
		h.t.Fatalf("ID token signature: %v", err)
	}
	var cl map[string]any
	if err := json.Unmarshal(payload, &cl); err != nil {
		h.t.Fatal(err)
	}
	return hdr, cl
}

func atHash(at string) string {
	sum := sha256.Sum256([]byte(at))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// TestIDTokenCodeGrant: the code grant with openid returns an ID token
// with every claim of OIDC Core §2 and §3.1.3.6, typ JWT, signed ES256 by
// a published key; the nonce is echoed byte for byte.
func TestIDTokenCodeGrant(t *testing.T) {
	h := newHarness(t)
	nonce := "n-0S6_WzA2Mj é \"quoted\" +/="
	b := h.newBrowser()
	r, _ := h.oidcTokens(b, oidcExtra(nonce))
	tok := r.str("id_token")
	if tok == "" {
		t.Fatalf("no id_token: %s", r.body)
	}
	hdr, cl := h.verifyIDToken(tok)
	if hdr.Algorithm != "ES256" || hdr.ExtraHeaders[jose.HeaderType] != "JWT" {
		t.Fatalf("header alg %s typ %v: want ES256, JWT", hdr.Algorithm, hdr.ExtraHeaders[jose.HeaderType])
	}
	now := float64(h.clk.Now().Unix())
	want := map[string]any{"iss": h.issuer, "sub": "u-alice", "aud": "web", "azp": "web", "nonce": nonce,
		"acr": ACRPassword, "at_hash": atHash(r.str("access_token")), "iat": now, "exp": now + DefaultIDTokenTTL.Seconds(),
		"auth_time": now}
	for k, v := range want {
		if cl[k] != v {
			t.Errorf("%s = %v, want %v", k, cl[k], v)
		}
	}
	if amr, _ := cl["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
		t.Errorf("amr = %v, want [pwd]", cl["amr"])
	}
	sid, _ := cl["sid"].(string)
	if len(sid) != 43 {
		t.Fatalf("sid = %q, want the session's 43-character sid", sid)
	}
	// The same session gives the same sid; the access token is unchanged
	// by openid (no sid, no nonce in it).
	r2, _ := h.oidcTokens(b, oidcExtra(""))
	_, cl2 := h.verifyIDToken(r2.str("id_token"))
	if cl2["sid"] != sid || cl2["nonce"] != nil {
		t.Fatalf("second ID token: sid %v nonce %v; want the same sid and no nonce", cl2["sid"], cl2["nonce"])
	}
	_, at := decodeJWT(t, r.str("access_token"))
	if at["nonce"] != nil || at["sid"] != nil {
		t.Errorf("access token carries OIDC claims: %v", at)
	}
}

// TestIDTokenNonce: a nonce is echoed exactly, absent when none was sent,
// bounded in length, and an ID token whose nonce was changed no longer
// verifies.
func TestIDTokenNonce(t *testing.T) {
	h := newHarness(t)
	b := h.newBrowser()
	r, _ := h.oidcTokens(b, oidcExtra("abc"))
	tok := r.str("id_token")
	if _, cl := h.verifyIDToken(tok); cl["nonce"] != "abc" {
		t.Fatalf("nonce %v, want abc", cl["nonce"])
	}
	// Tampered: the same token with another nonce fails its signature.
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = bytes.Replace(payload, []byte(`"nonce":"abc"`), []byte(`"nonce":"abd"`), 1)
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	obj, err := jose.ParseSignedCompact(forged, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	set := h.s.km.JWKS(h.clk.Now())
	if _, err := obj.Verify(set.Key(obj.Signatures[0].Header.KeyID)[0].Key); err == nil {
		t.Fatal("an ID token with a changed nonce verified")
	}
	// Missing: no nonce claim.
	r, _ = h.oidcTokens(b, oidcExtra(""))
	if _, cl := h.verifyIDToken(r.str("id_token")); cl["nonce"] != nil {
		t.Fatalf("nonce %v without a nonce sent", cl["nonce"])
	}
	// Too long: invalid_request to the redirect URI.
	v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	v.Set("nonce", strings.Repeat("n", maxNonceBytes+1))
	q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+v.Encode()))
	if q.Get("error") != oauth.InvalidRequest {
		t.Fatalf("long nonce: %v", q)
	}
}

// TestIDTokenOnlyWithOpenID: no ID token without the openid scope, and
// never on client_credentials, even when openid is asked for.
func TestIDTokenOnlyWithOpenID(t *testing.T) {
	h := newHarness(t)
	r, _ := h.oidcTokens(h.newBrowser(), url.Values{"scope": {"read"}})
	if r.str("id_token") != "" {
		t.Fatal("ID token without openid")
	}
	cc := h.token("svc", url.Values{"grant_type": {"client_credentials"}, "scope": {"openid read"}}, h.newSigner())
	if cc.status == http.StatusOK && cc.str("id_token") != "" {
		t.Fatalf("ID token on client_credentials: %s", cc.body)
	}
	if cc.status != http.StatusOK && cc.str("error") == "" {
		t.Fatalf("client_credentials: %d %s", cc.status, cc.body)
	}
}

// TestIDTokenRefresh: a refresh returns a new ID token with the same sub,
// auth_time, acr, amr and sid, no nonce, and the new access token's
// at_hash (OIDC Core §12.2).
func TestIDTokenRefresh(t *testing.T) {
	h := newHarness(t)
	r, s := h.oidcTokens(h.newBrowser(), oidcExtra("n1"))
	_, first := h.verifyIDToken(r.str("id_token"))
	h.clk.Advance(time.Hour)
	rr := h.refresh("web", r.str("refresh_token"), s)
	if rr.status != http.StatusOK || rr.str("id_token") == "" {
		t.Fatalf("refresh: %d %s", rr.status, rr.body)
	}
	_, cl := h.verifyIDToken(rr.str("id_token"))
	for _, k := range []string{"sub", "auth_time", "acr", "sid", "aud", "azp"} {
		if cl[k] != first[k] {
			t.Errorf("%s = %v after refresh, want %v", k, cl[k], first[k])
		}
	}
	if cl["nonce"] != nil || cl["at_hash"] != atHash(rr.str("access_token")) || cl["iat"] == first["iat"] {
		t.Errorf("refreshed ID token: nonce %v at_hash %v iat %v", cl["nonce"], cl["at_hash"], cl["iat"])
	}
	// A refresh narrowed to scopes without openid gets no ID token.
	rr2 := h.refresh("web", rr.str("refresh_token"), s, "scope", "read")
	if rr2.status != http.StatusOK || rr2.str("id_token") != "" {
		t.Fatalf("refresh without openid: %d, id_token %q", rr2.status, rr2.str("id_token"))
	}
}

// TestIDTokenRS256: a client that registered RS256 gets RS256 ID tokens
// (the RSA key made on first use), verifiable with /jwks; access tokens
// stay ES256.
func TestIDTokenRS256(t *testing.T) {
	h := newHarness(t)
	c := &store.Client{ID: "rp256", AuthMethod: oauth.AuthSecretBasic, RedirectURIs: []string{webRedirect},
		GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		Scopes:     []string{oauth.ScopeOpenID, "read"}, Audiences: []string{testAPI}, IDTokenSignedResponseAlg: store.AlgRS256}
	secret, err := CreateClient(context.Background(), h.st, c, h.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	h.secrets["rp256"] = secret
	code, v := h.code(h.newBrowser(), "rp256", webRedirect, oidcExtra("n"))
	r := h.exchange("rp256", code, v, webRedirect, h.newSigner())
	if r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	hdr, cl := h.verifyIDToken(r.str("id_token"))
	if hdr.Algorithm != "RS256" || cl["aud"] != "rp256" || cl["at_hash"] != atHash(r.str("access_token")) {
		t.Fatalf("RS256 client: alg %s claims %v", hdr.Algorithm, cl)
	}
	if ah, _ := decodeJWT(t, r.str("access_token")); ah["alg"] != "ES256" {
		t.Fatalf("access token alg %v, want ES256", ah["alg"])
	}
}

// TestIDTokenNotAnAccessToken: an ID token is never accepted where an
// access token is: /introspect answers inactive, and package resource
// (the gateway's verifier) refuses its typ, even with the ID token's
// client as the resource's audience.
func TestIDTokenNotAnAccessToken(t *testing.T) {
	h := newHarness(t)
	r, _ := h.oidcTokens(h.newBrowser(), oidcExtra("n"))
	idt := r.str("id_token")
	if ir := h.introspect(idt); ir.status != http.StatusOK || ir.json["active"] != false {
		t.Fatalf("introspect ID token: %d %s", ir.status, ir.body)
	}
	if ir := h.introspect(r.str("access_token")); ir.json["active"] != true {
		t.Fatalf("introspect access token: %s", ir.body)
	}
	v, err := dpop.NewVerifier()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := resource.New(resource.Config{Issuer: h.issuer, Audience: "web", DPoP: v,
		Keys: resource.StaticKeys(h.s.km.JWKS(h.clk.Now())), Algorithms: []string{"ES256", "RS256"},
		Clock: h.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "https://api.example/x", nil)
	req.Header.Set("Authorization", "Bearer "+idt)
	_, err = rs.Authenticate(req, resource.Requirement{})
	var e *oauth.Error
	if !errors.As(err, &e) || e.Reason != resource.ReasonBadTokenType {
		t.Fatalf("resource accepted or misjudged an ID token: %v", err)
	}
}

// TestIDTokenHint: an ID token Ward issued to the client is accepted as
// id_token_hint (expired too); an access token, another client's ID token
// or garbage is refused with invalid_request at the redirect URI; a hint
// naming another user than the session's is login_required under
// prompt=none and a new login otherwise.
func TestIDTokenHint(t *testing.T) {
	h := newHarness(t)
	b := h.newBrowser()
	r, _ := h.oidcTokens(b, oidcExtra("n"))
	idt, at := r.str("id_token"), r.str("access_token")
	h.clk.Advance(time.Hour) // the hint has expired: still a hint
	none := func(hint string) url.Values {
		v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
		v.Set("scope", "openid read")
		v.Set("prompt", "none")
		v.Set("id_token_hint", hint)
		return v
	}
	ok := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+none(idt).Encode()))
	if ok.Get("code") == "" {
		t.Fatalf("valid hint, same user: %v", ok)
	}
	for name, hint := range map[string]string{"access token": at, "garbage": "a.b.c", "refresh token": r.str("refresh_token")} {
		q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+none(hint).Encode()))
		if q.Get("error") != oauth.InvalidRequest || q.Get("iss") != h.issuer || q.Get("state") != "st-web" {
			t.Errorf("%s as id_token_hint: %v", name, q)
		}
	}
	// Where no client is named (RP-initiated logout), typ alone tells an
	// access token of this server from an ID token.
	if _, err := h.s.verifyIDToken(at, ""); err == nil {
		t.Error("an access token verified as an ID token")
	}
	if _, err := h.s.verifyIDToken(idt, ""); err != nil {
		t.Errorf("the ID token itself: %v", err)
	}
	// Another client's ID token is not a hint for web.
	h.addOIDCClient("rp2")
	code, v := h.code(b, "rp2", webRedirect, oidcExtra(""))
	other := h.exchange("rp2", code, v, webRedirect, h.newSigner()).str("id_token")
	if other == "" {
		t.Fatal("no ID token for rp2")
	}
	if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+none(other).Encode())); q.Get("error") != oauth.InvalidRequest {
		t.Errorf("another client's ID token as hint: %v", q)
	}
	// A hint for another user: login_required under prompt=none.
	bob := h.bobBrowser()
	h.clk.Advance(time.Second) // bob's login predates the next flow
	q := redirectQuery(t, bob.get(h.issuer+PathAuthorize+"?"+none(idt).Encode()))
	if q.Get("error") != oauth.LoginRequired || q.Get("iss") != h.issuer || q.Get("state") != "st-web" {
		t.Fatalf("hint for alice in bob's session: %v", q)
	}
	// Without prompt=none: the login page.
	v2 := none(idt)
	v2.Del("prompt")
	lr := bob.get(h.issuer + PathAuthorize + "?" + v2.Encode())
	if !bytes.Contains(lr.body, []byte(`name="password"`)) {
		t.Fatalf("hint for alice in bob's session: no login page: %d", lr.status)
	}
	// Logging in as bob again is not logging in as alice: login_required.
	if q := redirectQuery(t, bob.login(lr, "bob", testPassword)); q.Get("error") != oauth.LoginRequired || q.Get("state") != "st-web" {
		t.Fatalf("hint for alice, bob logged in during the flow: %v", q)
	}
	// Logging in as alice answers with a code.
	h.clk.Advance(time.Second)
	lr = bob.get(h.issuer + PathAuthorize + "?" + v2.Encode())
	if q := redirectQuery(t, bob.login(lr, "alice", testPassword)); q.Get("code") == "" {
		t.Fatalf("hint for alice, alice logged in during the flow: %v", q)
	}
}

// addOIDCClient registers a confidential client like web that may ask
// for openid.
func (h *harness) addOIDCClient(id string) *store.Client {
	h.t.Helper()
	c := &store.Client{ID: id, AuthMethod: oauth.AuthSecretBasic, RedirectURIs: []string{webRedirect},
		GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		Scopes:     []string{oauth.ScopeOpenID, "read"}, Audiences: []string{testAPI}}
	secret, err := CreateClient(context.Background(), h.st, c, h.clk.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	h.secrets[id] = secret
	return c
}

// bobBrowser is a browser logged in as a second user, bob.
func (h *harness) bobBrowser() *browser {
	h.t.Helper()
	if _, err := h.st.GetUserByUsername(context.Background(), "bob"); err != nil {
		alice, _ := h.st.GetUserByUsername(context.Background(), "alice")
		if err := h.st.CreateUser(context.Background(), &store.User{Subject: "u-bob", Username: "bob", PasswordHash: alice.PasswordHash, CreatedAt: h.clk.Now()}); err != nil {
			h.t.Fatal(err)
		}
	}
	b := h.newBrowser()
	v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	v.Set("scope", "openid read")
	r := b.login(b.get(h.issuer+PathAuthorize+"?"+v.Encode()), "bob", testPassword)
	if bytes.Contains(r.body, []byte(`name="decision"`)) {
		r = b.consent(r, "allow")
	}
	redirectQuery(h.t, r)
	return b
}

// TestPromptNone: prompt=none never shows a page; its errors go to the
// redirect URI with iss and state (OIDC Core §3.1.2.6, RFC 9207), and
// none combined with another value is invalid_request.
func TestPromptNone(t *testing.T) {
	h := newHarness(t)
	b := h.newBrowser()
	v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	v.Set("scope", "openid read")
	v.Set("prompt", "none")
	check := func(what, code string) {
		t.Helper()
		q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+v.Encode()))
		if q.Get("error") != code || q.Get("iss") != h.issuer || q.Get("state") != "st-web" {
			t.Fatalf("%s: %v, want %s with iss and state", what, q, code)
		}
	}
	check("no session", oauth.LoginRequired)
	h.oidcTokens(b, url.Values{"scope": {"read"}}) // logs in, consents to read only
	check("no consent to openid", oauth.ConsentRequired)
	v.Set("prompt", "none login")
	check("none with login", oauth.InvalidRequest)
	v.Set("prompt", "none")
	v.Set("scope", "read")
	if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+v.Encode())); q.Get("code") == "" {
		t.Fatalf("prompt=none with session and consent: %v", q)
	}
}

// TestMaxAge: a login older than max_age (or the client's
// default_max_age) is repeated, under prompt=none it is login_required;
// max_age=0 always asks; auth_time then says when the new login was.
func TestMaxAge(t *testing.T) {
	h := newHarness(t)
	b := h.newBrowser()
	r, _ := h.oidcTokens(b, oidcExtra(""))
	_, cl := h.verifyIDToken(r.str("id_token"))
	firstAuth := cl["auth_time"]
	h.clk.Advance(10 * time.Minute)
	v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	v.Set("scope", "openid read")
	v.Set("max_age", "600")
	if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+v.Encode())); q.Get("code") == "" {
		t.Fatalf("login exactly max_age old: %v", q)
	}
	for _, ma := range []string{"599", "0"} {
		v.Set("max_age", ma)
		v.Set("prompt", "none")
		if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+v.Encode())); q.Get("error") != oauth.LoginRequired || q.Get("state") != "st-web" || q.Get("iss") != h.issuer {
			t.Fatalf("max_age=%s, prompt=none: %v", ma, q)
		}
		v.Del("prompt")
		if lr := b.get(h.issuer + PathAuthorize + "?" + v.Encode()); !bytes.Contains(lr.body, []byte(`name="password"`)) {
			t.Fatalf("max_age=%s: no login page (%d)", ma, lr.status)
		}
	}
	// max_age=0 logs in again, and auth_time moves.
	h.clk.Advance(time.Minute)
	r, _ = h.oidcTokens(b, oidcExtra("", "max_age", "0"))
	_, cl = h.verifyIDToken(r.str("id_token"))
	if cl["auth_time"] == firstAuth || cl["auth_time"] != float64(h.clk.Now().Unix()) {
		t.Fatalf("auth_time %v after max_age=0, first %v, now %d", cl["auth_time"], firstAuth, h.clk.Now().Unix())
	}
	// The client's default_max_age applies when the request has none.
	c := h.addOIDCClient("aged")
	c.DefaultMaxAge = time.Minute
	if err := h.st.UpsertClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	h.code(b, "aged", webRedirect, oidcExtra("")) // consent
	h.clk.Advance(2 * time.Minute)
	v = authParams("aged", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	v.Set("scope", "openid read")
	v.Set("prompt", "none")
	if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+v.Encode())); q.Get("error") != oauth.LoginRequired {
		t.Fatalf("default_max_age: %v", q)
	}
}

// TestClaimsParameter: claims asked for in the ID token are in it (the
// user's own values; an absent one, or one no granted scope releases, is
// left out); a malformed request is
// invalid_request; an essential acr Ward cannot assert is access_denied;
// a sub value other than the session's user needs a new login.
func TestClaimsParameter(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	alice, _ := h.st.GetUserByUsername(ctx, "alice")
	yes := true
	alice.Claims = store.UserClaims{Name: "Alice Martin", Email: "alice@example.com", EmailVerified: &yes}
	if err := h.st.UpsertUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	b := h.newBrowser()
	claims := `{"id_token":{"email":{"essential":true},"email_verified":null,"phone_number":null},"userinfo":{"name":null}}`
	r, _ := h.oidcTokens(b, oidcExtra("", "claims", claims, "scope", "openid email read"))
	_, cl := h.verifyIDToken(r.str("id_token"))
	if cl["email"] != "alice@example.com" || cl["email_verified"] != true || cl["name"] != nil || cl["phone_number"] != nil {
		t.Fatalf("ID token claims %v: want email and email_verified only", cl)
	}
	// Without the email scope the same request releases nothing: the
	// user consented to scopes.
	r, _ = h.oidcTokens(b, oidcExtra("", "claims", claims))
	if _, cl := h.verifyIDToken(r.str("id_token")); cl["email"] != nil || cl["email_verified"] != nil {
		t.Fatalf("claims released without their scope: %v", cl)
	}
	v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	v.Set("scope", "openid read")
	for _, bad := range []string{`[]`, `{"id_token":{"email":{"essential":"yes"}}}`, `{"id_token":1}`,
		`{"id_token":{"a":null,"a":null}}`, `{"ID_TOKEN":{}}`, strings.Repeat(`[`, 10) + strings.Repeat(`]`, 10)} {
		v.Set("claims", bad)
		if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+v.Encode())); q.Get("error") != oauth.InvalidRequest {
			t.Errorf("claims %s: %v", bad, q)
		}
	}
	v.Set("claims", `{"id_token":{"acr":{"essential":true,"values":["urn:example:mfa"]}}}`)
	if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+v.Encode())); q.Get("error") != oauth.AccessDenied {
		t.Errorf("unmet essential acr: %v", q)
	}
	v.Set("claims", `{"id_token":{"acr":{"essential":true,"values":["`+ACRPassword+`"]}}}`)
	if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+v.Encode())); q.Get("code") == "" {
		t.Errorf("met essential acr: %v", q)
	}
	h.clk.Advance(time.Second) // the login predates the next flow
	v.Set("claims", `{"id_token":{"sub":{"value":"u-bob"}}}`)
	v.Set("prompt", "none")
	if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+v.Encode())); q.Get("error") != oauth.LoginRequired {
		t.Errorf("sub value of another user: %v", q)
	}
}

// TestOIDCResponseTypes: implicit and hybrid response types are
// unsupported_response_type, sent to the redirect URI.
func TestOIDCResponseTypes(t *testing.T) {
	h := newHarness(t)
	b := h.newBrowser()
	for _, rt := range []string{"id_token", "id_token token", "code id_token", "code token", "code id_token token", "token"} {
		v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
		v.Set("scope", "openid")
		v.Set("response_type", rt)
		if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+v.Encode())); q.Get("error") != oauth.UnsupportedResponseType || q.Get("iss") != h.issuer {
			t.Errorf("response_type=%s: %v", rt, q)
		}
	}
}

// TestLoginHint: login_hint fills in the username on the login page, as
// text (escaped).
func TestLoginHint(t *testing.T) {
	h := newHarness(t)
	v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	v.Set("login_hint", `alice"><b>`)
	r := h.newBrowser().get(h.issuer + PathAuthorize + "?" + v.Encode())
	if !bytes.Contains(r.body, []byte(`value="alice&#34;&gt;&lt;b&gt;"`)) {
		t.Fatalf("login page does not carry the escaped login_hint:\n%s", r.body)
	}
}

// TestDiscoveryOIDC: /.well-known/openid-configuration is the RFC 8414
// document, byte for byte, with the OpenID Connect members.
func TestDiscoveryOIDC(t *testing.T) {
	h := newHarness(t)
	a := h.do(h.srv.Client(), mustReq(t, h.issuer+PathMetadata))
	o := h.do(h.srv.Client(), mustReq(t, h.issuer+PathOIDCConfiguration))
	if o.status != http.StatusOK || !bytes.Equal(a.body, o.body) {
		t.Fatalf("the two documents differ:\n%s\n%s", a.body, o.body)
	}
	var md map[string]any
	if err := json.Unmarshal(o.body, &md); err != nil {
		t.Fatal(err)
	}
	if md["issuer"] != h.issuer || md["userinfo_endpoint"] != h.issuer+PathUserInfo || md["end_session_endpoint"] != h.issuer+PathEndSession ||
		md["frontchannel_logout_supported"] != false || md["request_parameter_supported"] != true || md["request_uri_parameter_supported"] != false {
		t.Fatalf("OIDC members: %v", md)
	}
}

// TestUILocales: ui_locales is accepted, never an error; the well-formed
// tags reach the flow state in order, at most maxUILocales of them.
func TestUILocales(t *testing.T) {
	v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	v.Set("ui_locales", "fr-CA fr <script> en-US "+strings.Repeat("x ", 20))
	req, e := parseAuthorizationRequest(v)
	if e != nil {
		t.Fatal(e)
	}
	if got := strings.Join(req.UILocales, " "); !strings.HasPrefix(got, "fr-CA fr en-US x") || len(req.UILocales) != maxUILocales {
		t.Fatalf("UILocales = %q", req.UILocales)
	}
}

// TestOIDCThroughPAR: a pushed request carries the OpenID Connect
// parameters (RFC 9126 §2.1: the same as the authorization request): its
// nonce reaches the ID token, and a bad claims or prompt is refused at
// the PAR endpoint.
func TestOIDCThroughPAR(t *testing.T) {
	h := newHarness(t)
	push := func(kv ...string) (*response, string) {
		v, _ := pkce.NewVerifier()
		p := authParams("web", webRedirect, pkce.Challenge(v))
		p.Set("scope", "openid read")
		for i := 0; i+1 < len(kv); i += 2 {
			p.Set(kv[i], kv[i+1])
		}
		return h.post(PathPAR, p, h.auth("web", p)...), v
	}
	r, v := push("nonce", "par-nonce", "max_age", "60", "claims", `{"id_token":{"email":null}}`)
	code := h.codeFromPAR(r)
	tr := h.exchange("web", code, v, webRedirect, h.newSigner())
	if _, cl := h.verifyIDToken(tr.str("id_token")); cl["nonce"] != "par-nonce" || cl["auth_time"] == nil {
		t.Fatalf("ID token from a pushed request: %v", cl)
	}
	for _, bad := range [][]string{{"claims", `{"id_token":[`}, {"prompt", "none login"}, {"max_age", "-1"}, {"response_type", "code id_token"}} {
		r, _ := push(bad...)
		if r.status != http.StatusBadRequest || r.str("error") == "" {
			t.Errorf("PAR with %v: %d %s", bad, r.status, r.body)
		}
	}
}

// TestStaticRS256KeyAtStart: when a static client registered RS256, Run
// makes the RS256 key before any ID token, so every instance publishes it
// from the start.
func TestStaticRS256KeyAtStart(t *testing.T) {
	h := newHarness(t, func(c *configT) {
		c.Clients = []config.Client{{ID: "static-rs", AuthMethod: oauth.AuthNone, RedirectURIs: []string{webRedirect}, IDTokenSignedResponseAlg: store.AlgRS256}}
	})
	if _, err := h.s.km.SignerFor(keys.RS256, h.clk.Now()); err == nil {
		t.Fatal("an RS256 key before Run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := h.s.km.SignerFor(keys.RS256, h.clk.Now()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run made no RS256 key for a static RS256 client")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}
