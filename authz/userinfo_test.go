package authz

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

const (
	rpRedirect    = "https://rp.example/cb"
	rpBRedirect   = "https://rp-b.example/cb"
	testSaltBytes = 9
)

var userInfoScopes = []string{"openid", "profile", "email", "phone", "address", "read"}

// withPairwiseSalt configures the pairwise salt.
func withPairwiseSalt(c *config.Config) {
	c.OIDC.PairwiseSalt = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{testSaltBytes}, 32))
}

// newOIDCHarness is the harness with a pairwise salt, alice's claims,
// and OpenID Connect clients:
//
//	rp        public, DPoP, redirect http://127.0.0.1/cb
//	rpbearer  client_secret_basic, sender constraint bearer
//	rpsigned  public, DPoP, signed UserInfo (ES256)
//	rprsa     public, DPoP, signed UserInfo (RS256)
func newOIDCHarness(t testing.TB) *harness {
	t.Helper()
	h := newHarness(t, withPairwiseSalt)
	h.addUserInfoClient(store.Client{ID: "rp", AuthMethod: oauth.AuthNone, RedirectURIs: []string{spaRedirect}})
	h.addUserInfoClient(store.Client{ID: "rpbearer", AuthMethod: oauth.AuthSecretBasic, SenderConstraint: store.ConstraintBearer})
	h.addUserInfoClient(store.Client{ID: "rpsigned", AuthMethod: oauth.AuthNone, RedirectURIs: []string{spaRedirect}, UserinfoSignedResponseAlg: store.AlgES256})
	h.addUserInfoClient(store.Client{ID: "rprsa", AuthMethod: oauth.AuthNone, RedirectURIs: []string{spaRedirect}, UserinfoSignedResponseAlg: store.AlgRS256})
	h.setClaims(store.UserClaims{
		Name: "Alice Liddell", GivenName: "Alice", PreferredUsername: "alice", Locale: "en-GB",
		Email: "alice@example.com", EmailVerified: ptr(true), PhoneNumber: "+44 20 7946 0958",
		Address: &store.Address{Locality: "Oxford", Country: "GB"},
	})
	return h
}

func ptr[T any](v T) *T { return &v }

// addUserInfoClient registers c with the OpenID Connect scopes.
func (h *harness) addUserInfoClient(c store.Client) {
	h.t.Helper()
	c.Scopes = userInfoScopes
	c.Audiences = []string{testAPI}
	c.GrantTypes = []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
	if c.RedirectURIs == nil {
		c.RedirectURIs = []string{rpRedirect}
	}
	secret, err := CreateClient(context.Background(), h.st, &c, h.clk.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	h.secrets[c.ID] = secret
}

// setClaims stores alice's claims.
func (h *harness) setClaims(cl store.UserClaims) {
	h.t.Helper()
	u, err := h.st.GetUser(context.Background(), "u-alice")
	if err != nil {
		h.t.Fatal(err)
	}
	u.Claims, u.UpdatedAt = cl, h.clk.Now()
	if err := h.st.UpsertUser(context.Background(), u); err != nil {
		h.t.Fatal(err)
	}
}

// loginToken runs the code flow for clientID with scope and returns the
// token response (s nil: no DPoP proof).
func (h *harness) loginToken(clientID, redirect, scope string, s *dpop.Signer) *response {
	h.t.Helper()
	code, v := h.code(h.newBrowser(), clientID, redirect, url.Values{"scope": {scope}})
	r := h.exchange(clientID, code, v, redirect, s)
	if r.status != http.StatusOK {
		h.t.Fatalf("token: %d %s", r.status, r.body)
	}
	return r
}

// userinfo calls the UserInfo endpoint with method and an Authorization
// header "scheme tok" (none when scheme is ""); hdr adds headers.
func (h *harness) userinfo(method, scheme, tok string, hdr ...string) *response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.issuer+PathUserInfo, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if scheme != "" {
		req.Header.Set("Authorization", scheme+" "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return h.do(h.srv.Client(), req)
}

// userinfoDPoP calls UserInfo with a proof by s for method and u.
func (h *harness) userinfoDPoP(method, u, tok string, s *dpop.Signer) *response {
	h.t.Helper()
	p, err := s.Proof(method, u, dpop.WithAccessToken(tok))
	if err != nil {
		h.t.Fatal(err)
	}
	return h.userinfo(method, "DPoP", tok, "DPoP", p)
}

func wantChallenge(t *testing.T, r *response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, code)
	}
	if got := strings.Join(r.header.Values("WWW-Authenticate"), " | "); !strings.Contains(got, `error="`+code+`"`) {
		t.Fatalf("WWW-Authenticate %q, want error %q", got, code)
	}
}

// TestUserInfoDPoP: a DPoP-bound access token is accepted with the DPoP
// scheme and a proof for this request only (RFC 9449 §7.1, §7.2): not as
// Bearer, not in a form body, not with a proof for another URL, method or
// key, not with a replayed proof.
func TestUserInfoDPoP(t *testing.T) {
	h := newOIDCHarness(t)
	s := h.newSigner()
	tok := h.loginToken("rp", spaRedirect, "openid profile email", s).str("access_token")
	ui := h.issuer + PathUserInfo

	r := h.userinfoDPoP(http.MethodGet, ui, tok, s)
	if r.status != http.StatusOK || r.str("sub") != "u-alice" || r.str("name") != "Alice Liddell" || r.str("email") != "alice@example.com" {
		t.Fatalf("good DPoP request: %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	if r := h.userinfoDPoP(http.MethodPost, ui, tok, s); r.status != http.StatusOK {
		t.Fatalf("POST with a proof: %d %s", r.status, r.body)
	}
	// RFC 9449 §7.2: a DPoP-bound token presented as Bearer.
	wantChallenge(t, h.userinfo(http.MethodGet, "Bearer", tok), http.StatusUnauthorized, oauth.InvalidToken)
	// ... or with a Bearer header and a valid proof beside it.
	p, _ := s.Proof(http.MethodGet, ui, dpop.WithAccessToken(tok))
	wantChallenge(t, h.userinfo(http.MethodGet, "Bearer", tok, "DPoP", p), http.StatusUnauthorized, oauth.InvalidToken)
	// ... or in a form body.
	req, _ := http.NewRequest(http.MethodPost, ui, strings.NewReader(url.Values{"access_token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	wantChallenge(t, h.do(h.srv.Client(), req), http.StatusUnauthorized, oauth.InvalidToken)
	// A proof for the token endpoint, for POST when GET is sent, by
	// another key, without ath, replayed.
	wantChallenge(t, h.userinfoDPoP(http.MethodGet, h.issuer+PathToken, tok, s), http.StatusUnauthorized, oauth.InvalidDPoPProof)
	p, _ = s.Proof(http.MethodPost, ui, dpop.WithAccessToken(tok))
	wantChallenge(t, h.userinfo(http.MethodGet, "DPoP", tok, "DPoP", p), http.StatusUnauthorized, oauth.InvalidDPoPProof)
	wantChallenge(t, h.userinfoDPoP(http.MethodGet, ui, tok, h.newSigner()), http.StatusUnauthorized, oauth.InvalidDPoPProof)
	p, _ = s.Proof(http.MethodGet, ui)
	wantChallenge(t, h.userinfo(http.MethodGet, "DPoP", tok, "DPoP", p), http.StatusUnauthorized, oauth.InvalidDPoPProof)
	p, _ = s.Proof(http.MethodGet, ui, dpop.WithAccessToken(tok))
	if r := h.userinfo(http.MethodGet, "DPoP", tok, "DPoP", p); r.status != http.StatusOK {
		t.Fatalf("fresh proof: %d %s", r.status, r.body)
	}
	wantChallenge(t, h.userinfo(http.MethodGet, "DPoP", tok, "DPoP", p), http.StatusUnauthorized, oauth.InvalidDPoPProof)
	// No proof at all.
	wantChallenge(t, h.userinfo(http.MethodGet, "DPoP", tok), http.StatusUnauthorized, oauth.InvalidDPoPProof)
}

// TestUserInfoDPoPNonce: with dpop.nonce.enabled, a proof without the
// server's nonce gets use_dpop_nonce and a DPoP-Nonce header (RFC 9449
// §9), and a proof with it is accepted.
func TestUserInfoDPoPNonce(t *testing.T) {
	h := newHarness(t, withPairwiseSalt, func(c *config.Config) { c.DPoP.Nonce.Enabled = true })
	h.addUserInfoClient(store.Client{ID: "rp", AuthMethod: oauth.AuthNone, RedirectURIs: []string{spaRedirect}})
	s := h.newSigner()
	code, v := h.code(h.newBrowser(), "rp", spaRedirect, url.Values{"scope": {"openid"}})
	r := h.exchange("rp", code, v, spaRedirect, s)
	nonce := r.header.Get("DPoP-Nonce")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {v}, "redirect_uri": {spaRedirect}}
	tok := h.token("rp", form, s, dpop.WithNonce(nonce)).str("access_token")
	if tok == "" {
		t.Fatal("no token with the nonce")
	}
	ui := h.issuer + PathUserInfo
	r = h.userinfoDPoP(http.MethodGet, ui, tok, s)
	wantChallenge(t, r, http.StatusUnauthorized, oauth.UseDPoPNonce)
	n := r.header.Get("DPoP-Nonce")
	if n == "" {
		t.Fatal("use_dpop_nonce without DPoP-Nonce")
	}
	p, _ := s.Proof(http.MethodGet, ui, dpop.WithAccessToken(tok), dpop.WithNonce(n))
	if r := h.userinfo(http.MethodGet, "DPoP", tok, "DPoP", p); r.status != http.StatusOK {
		t.Fatalf("proof with the nonce: %d %s", r.status, r.body)
	}
}

// TestUserInfoBearer: a token that is not sender-constrained (a bearer
// client's) is accepted as Bearer in the header or a POST body (RFC 6750
// §2.1, §2.2), never in the query, never two at once, and not with the
// DPoP scheme.
func TestUserInfoBearer(t *testing.T) {
	h := newOIDCHarness(t)
	tok := h.loginToken("rpbearer", rpRedirect, "openid email", nil).str("access_token")
	if r := h.userinfo(http.MethodGet, "Bearer", tok); r.status != http.StatusOK || r.str("email") != "alice@example.com" {
		t.Fatalf("Bearer header: %d %s", r.status, r.body)
	}
	post := func(form url.Values, hdr ...string) *response {
		req, _ := http.NewRequest(http.MethodPost, h.issuer+PathUserInfo, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		return h.do(h.srv.Client(), req)
	}
	if r := post(url.Values{"access_token": {tok}}); r.status != http.StatusOK || r.str("sub") != "u-alice" {
		t.Fatalf("form body: %d %s", r.status, r.body)
	}
	wantChallenge(t, post(url.Values{"access_token": {tok}}, "Authorization", "Bearer "+tok), http.StatusBadRequest, oauth.InvalidRequest)
	req, _ := http.NewRequest(http.MethodGet, h.issuer+PathUserInfo+"?access_token="+tok, nil)
	wantChallenge(t, h.do(h.srv.Client(), req), http.StatusBadRequest, oauth.InvalidRequest)
	wantChallenge(t, h.userinfoDPoP(http.MethodGet, h.issuer+PathUserInfo, tok, h.newSigner()), http.StatusUnauthorized, oauth.InvalidToken)
	// No credentials: the challenges, no error (RFC 6750 §3.1).
	r := h.userinfo(http.MethodGet, "", "")
	if r.status != http.StatusUnauthorized || len(r.header.Values("WWW-Authenticate")) != 2 || strings.Contains(r.header.Get("WWW-Authenticate"), "error=") {
		t.Fatalf("no token: %d %v", r.status, r.header)
	}
	if r := h.userinfo(http.MethodPut, "Bearer", tok); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", r.status)
	}
}

// TestUserInfoScope: a token without openid is refused with
// insufficient_scope naming it (OIDC Core §5.3, RFC 6750 §3.1).
func TestUserInfoScope(t *testing.T) {
	h := newOIDCHarness(t)
	tok := h.loginToken("rpbearer", rpRedirect, "read", nil).str("access_token")
	r := h.userinfo(http.MethodGet, "Bearer", tok)
	wantChallenge(t, r, http.StatusForbidden, oauth.InsufficientScope)
	if ch := strings.Join(r.header.Values("WWW-Authenticate"), " | "); !strings.Contains(ch, `scope="openid"`) {
		t.Fatalf("challenge %q does not name openid", ch)
	}
}

// TestUserInfoRevoked: a revoked access token, and one whose grant
// (family) was revoked, are invalid_token; so is an expired one.
func TestUserInfoRevoked(t *testing.T) {
	h := newOIDCHarness(t)
	tr := h.loginToken("rpbearer", rpRedirect, "openid", nil)
	tok := tr.str("access_token")
	if r := h.userinfo(http.MethodGet, "Bearer", tok); r.status != http.StatusOK {
		t.Fatalf("live token: %d %s", r.status, r.body)
	}
	_, fam := h.familyOf(tr.str("refresh_token"))
	if err := h.st.RevokeFamily(context.Background(), fam.ID, "test", h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	wantChallenge(t, h.userinfo(http.MethodGet, "Bearer", tok), http.StatusUnauthorized, oauth.InvalidToken)

	tok = h.loginToken("rpbearer", rpRedirect, "openid", nil).str("access_token")
	if r := h.post(PathRevoke, url.Values{"token": {tok}}, h.basic("rpbearer")...); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	wantChallenge(t, h.userinfo(http.MethodGet, "Bearer", tok), http.StatusUnauthorized, oauth.InvalidToken)

	tok = h.loginToken("rpbearer", rpRedirect, "openid", nil).str("access_token")
	h.clk.Advance(time.Hour)
	wantChallenge(t, h.userinfo(http.MethodGet, "Bearer", tok), http.StatusUnauthorized, oauth.InvalidToken)
}

// TestUserInfoRefusesOtherJWTs: a JWT signed by the server's own key that
// is not an access token — an ID token (typ JWT), a signed UserInfo
// response — is refused as invalid_token, as is a client_credentials
// token, which names no user.
func TestUserInfoRefusesOtherJWTs(t *testing.T) {
	h := newOIDCHarness(t)
	k, err := h.s.km.Signer(h.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	now := h.clk.Now().Unix()
	idToken, err := signJWT(k, "JWT", map[string]any{
		"iss": h.issuer, "sub": "u-alice", "aud": "rpbearer", "exp": now + 300, "iat": now, "jti": "x",
		"client_id": "rpbearer", "scope": "openid", "auth_time": now, "nonce": "n",
	})
	if err != nil {
		t.Fatal(err)
	}
	wantChallenge(t, h.userinfo(http.MethodGet, "Bearer", idToken), http.StatusUnauthorized, oauth.InvalidToken)
	// A live access token's very claims (grant_id included) under typ JWT:
	// only the type tells it from an access token (RFC 9068 §2.1, §4).
	at := h.mintToken("rpbearer", "openid", "")
	if r := h.userinfo(http.MethodGet, "Bearer", at); r.status != http.StatusOK {
		t.Fatalf("the access token itself: %d %s", r.status, r.body)
	}
	_, cl := decodeJWT(t, at)
	retyped, err := signJWT(k, "JWT", cl)
	if err != nil {
		t.Fatal(err)
	}
	wantChallenge(t, h.userinfo(http.MethodGet, "Bearer", retyped), http.StatusUnauthorized, oauth.InvalidToken)

	// The same claims as an access token, but from client_credentials.
	cc := h.token("svc", url.Values{"grant_type": {"client_credentials"}}, h.newSigner())
	if cc.status != http.StatusOK {
		t.Fatalf("client_credentials: %d %s", cc.status, cc.body)
	}
	wantChallenge(t, h.userinfoDPoP(http.MethodGet, h.issuer+PathUserInfo, cc.str("access_token"), h.newSigner()), http.StatusUnauthorized, oauth.InvalidToken)
}

// TestUserInfoScopeClaims: each scope releases its claims of OIDC Core
// §5.4 and no other; sub always.
func TestUserInfoScopeClaims(t *testing.T) {
	h := newOIDCHarness(t)
	for _, tc := range []struct {
		scope     string
		want, not []string
	}{
		{"openid", []string{"sub"}, []string{"name", "email", "phone_number", "address", "locale"}},
		{"openid profile", []string{"sub", "name", "given_name", "preferred_username", "locale", "updated_at"}, []string{"email", "email_verified", "phone_number", "address"}},
		{"openid email", []string{"sub", "email", "email_verified"}, []string{"name", "phone_number", "address"}},
		{"openid phone", []string{"sub", "phone_number"}, []string{"name", "email", "address"}},
		{"openid address", []string{"sub", "address"}, []string{"name", "email", "phone_number"}},
	} {
		tok := h.loginToken("rpbearer", rpRedirect, tc.scope, nil).str("access_token")
		r := h.userinfo(http.MethodGet, "Bearer", tok)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.scope, r.status, r.body)
		}
		for _, c := range tc.want {
			if _, ok := r.json[c]; !ok {
				t.Errorf("%s: %s missing from %s", tc.scope, c, r.body)
			}
		}
		for _, c := range tc.not {
			if _, ok := r.json[c]; ok {
				t.Errorf("%s: %s released: %s", tc.scope, c, r.body)
			}
		}
	}
}

// mintToken issues an access token of clientID for alice from a new
// family holding claimsRequest, as the code grant does.
func (h *harness) mintToken(clientID, scope, claimsRequest string) string {
	h.t.Helper()
	ctx := context.Background()
	sc, err := h.st.GetClient(ctx, clientID)
	if err != nil {
		h.t.Fatal(err)
	}
	now := h.clk.Now()
	fam := &store.Family{ID: randomToken(16), ClientID: clientID, Subject: "u-alice", Scope: scope, AuthTime: now,
		OIDC: store.OIDC{ClaimsRequest: claimsRequest}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := h.st.CreateFamily(ctx, fam, nil); err != nil {
		h.t.Fatal(err)
	}
	resp, err := h.s.issue(&client{Client: sc}, "u-alice", scope, []string{testAPI}, binding{}, fam.ID, now)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.AccessToken
}

// TestUserInfoClaimsRequest: claims named in the claims request's
// userinfo member are returned beyond the scope's, essential or not
// (OIDC Core §5.5); those of its id_token member are not.
func TestUserInfoClaimsRequest(t *testing.T) {
	h := newOIDCHarness(t)
	req := `{"userinfo":{"email":{"essential":true},"phone_number":null,"nickname":{"essential":true}},"id_token":{"address":null}}`
	// Under openid alone the request reaches nothing: consent is given,
	// and remembered, by scope (OIDC Core §5.4).
	r := h.userinfo(http.MethodGet, "Bearer", h.mintToken("rpbearer", "openid", req))
	if r.status != http.StatusOK || len(r.json) != 1 || r.str("sub") == "" {
		t.Fatalf("claims request past the granted scopes: %d %s", r.status, r.body)
	}
	tok := h.mintToken("rpbearer", "openid email phone", req)
	r = h.userinfo(http.MethodGet, "Bearer", tok)
	if r.status != http.StatusOK || r.str("email") != "alice@example.com" || r.str("phone_number") != "+44 20 7946 0958" {
		t.Fatalf("requested claims: %d %s", r.status, r.body)
	}
	for _, c := range []string{"address", "name", "nickname"} {
		if _, ok := r.json[c]; ok {
			t.Errorf("%s released without its scope, or not requested for userinfo, or not set: %s", c, r.body)
		}
	}
}

// TestUserInfoSigned: a client registered for signed UserInfo gets an
// application/jwt response signed with a key of /jwks (ES256), with iss
// and aud (OIDC Core §5.3.2); a client registered for RS256 gets RS256,
// verifiable with /jwks.
func TestUserInfoSigned(t *testing.T) {
	h := newOIDCHarness(t)
	s := h.newSigner()
	tok := h.loginToken("rpsigned", spaRedirect, "openid email", s).str("access_token")
	r := h.userinfoDPoP(http.MethodGet, h.issuer+PathUserInfo, tok, s)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/jwt" {
		t.Fatalf("signed userinfo: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	jr := h.do(h.srv.Client(), must(http.NewRequest(http.MethodGet, h.issuer+PathJWKS, nil)))
	set, err := jose.ParseSignedCompact(string(r.body), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(jr.body, &jwks); err != nil {
		t.Fatal(err)
	}
	keys := jwks.Key(set.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in /jwks", set.Signatures[0].Header.KeyID)
	}
	parsed, err := jwt.ParseSigned(string(r.body), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var cl map[string]any
	if err := parsed.Claims(keys[0].Key, &cl); err != nil {
		t.Fatalf("signature does not verify with /jwks: %v", err)
	}
	if cl["iss"] != h.issuer || cl["aud"] != "rpsigned" || cl["sub"] != "u-alice" || cl["email"] != "alice@example.com" {
		t.Fatalf("claims %v", cl)
	}
	if _, err := h.s.parseAccessToken(string(r.body), h.clk.Now()); err == nil {
		t.Fatal("a signed UserInfo response passes as an access token")
	}

	// RS256: the RSA chain of the ID tokens, made on first use and
	// published in /jwks.
	tok = h.loginToken("rprsa", spaRedirect, "openid", s).str("access_token")
	r = h.userinfoDPoP(http.MethodGet, h.issuer+PathUserInfo, tok, s)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/jwt" {
		t.Fatalf("RS256 signed userinfo: %d %s", r.status, r.body)
	}
	if _, err := jose.ParseSignedCompact(string(r.body), []jose.SignatureAlgorithm{jose.ES256}); err == nil {
		t.Fatal("an RS256 client's UserInfo is not RS256")
	}
	parsed, err = jwt.ParseSigned(string(r.body), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	jr = h.do(h.srv.Client(), must(http.NewRequest(http.MethodGet, h.issuer+PathJWKS, nil)))
	if err := json.Unmarshal(jr.body, &jwks); err != nil {
		t.Fatal(err)
	}
	keys = jwks.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("RS256 kid %q not in /jwks", parsed.Headers[0].KeyID)
	}
	cl = nil
	if err := parsed.Claims(keys[0].Key, &cl); err != nil || cl["aud"] != "rprsa" {
		t.Fatalf("RS256 UserInfo does not verify with /jwks: %v %v", err, cl)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestUserInfoMetrics: answers are counted by outcome.
func TestUserInfoMetrics(t *testing.T) {
	h := newOIDCHarness(t)
	tok := h.loginToken("rpbearer", rpRedirect, "openid", nil).str("access_token")
	h.userinfo(http.MethodGet, "Bearer", tok)
	h.userinfo(http.MethodGet, "Bearer", "nope")
	h.userinfo(http.MethodGet, "", "")
	for _, o := range []string{userInfoOK, oauth.InvalidToken, userInfoNoToken} {
		if got := h.userInfoCount(o); got != 1 {
			t.Errorf("outcome %s counted %v, want 1", o, got)
		}
	}
}

// userInfoCount is ward_authz_userinfo_requests_total{outcome}.
func (h *harness) userInfoCount(outcome string) float64 {
	h.t.Helper()
	fams, err := h.s.metrics.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if f.GetName() == "ward_authz_userinfo_requests_total" && l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	h.t.Fatalf("no ward_authz_userinfo_requests_total{outcome=%q}", outcome)
	return 0
}

// FuzzUserInfoRequest: the credentials parser never panics, and what it
// accepts is one token of a known scheme.
func FuzzUserInfoRequest(f *testing.F) {
	f.Add("", "DPoP eyJ.a.b", "")
	f.Add("access_token=x", "Bearer abc", "access_token=y")
	f.Add("a=1", "", "access_token=abc%3D")
	f.Add("", "Basic Zm9v", "")
	f.Fuzz(func(t *testing.T, query, authz, body string) {
		var hdr []string
		if authz != "" {
			hdr = []string{authz}
		}
		form, _ := parseParams(body)
		c, err := parseUserInfoRequest(query, hdr, form)
		if err != nil {
			return
		}
		if !slices.Contains([]string{schemeDPoP, schemeBearer, schemeBody}, c.scheme) || !token68(c.token) {
			t.Fatalf("accepted %+v", c)
		}
	})
}

// TestUserInfoCertBound: a certificate-bound access token (cnf.x5t#S256)
// is accepted only over a connection presenting the same certificate
// (RFC 8705 §3): not with another certificate, not without one.
func TestUserInfoCertBound(t *testing.T) {
	e := newMTLSEnv(t)
	e.h.addUserInfoClient(store.Client{ID: "pubmo", AuthMethod: oauth.AuthNone, SenderConstraint: store.ConstraintDPoPOrMTLS, RedirectURIs: []string{spaRedirect}})
	e.h.setClaims(store.UserClaims{Email: "alice@example.com"})
	a := mtlstest.SelfSigned(t, mtlstest.Options{CommonName: "device-a"})
	b := mtlstest.SelfSigned(t, mtlstest.Options{CommonName: "device-b"})
	code, verifier := e.h.code(e.h.newBrowser(), "pubmo", spaRedirect, url.Values{"scope": {"openid email"}})
	r := e.post(e.url, a, PathToken, url.Values{"grant_type": {string(oauth.GrantAuthorizationCode)}, "client_id": {"pubmo"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {spaRedirect}})
	wantBound(t, r, a)
	tok := r.str("access_token")
	get := func(cert *mtlstest.Cert) *response {
		req, _ := http.NewRequest(http.MethodGet, e.url+PathUserInfo, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: mtlstest.ClientTLSConfig(cert, e.ca.Pool())}, Timeout: 10 * time.Second}
		return e.h.do(c, req)
	}
	if r := get(a); r.status != http.StatusOK || r.str("email") != "alice@example.com" {
		t.Fatalf("same certificate: %d %s", r.status, r.body)
	}
	wantChallenge(t, get(b), http.StatusUnauthorized, oauth.InvalidToken)
	wantChallenge(t, get(nil), http.StatusUnauthorized, oauth.InvalidToken)
}

// revokedDownStore fails AccessTokenRevoked as a database cut off would.
type revokedDownStore struct{ storeT }

func (revokedDownStore) AccessTokenRevoked(context.Context, string) (bool, error) {
	return false, fmt.Errorf("sqlstore: access token revoked: %w", errDial)
}

// TestUserInfoStoreUnavailableIs503: a store that cannot say whether the
// token was revoked makes UserInfo answer 503 with Retry-After: never the
// claims (fail closed), never invalid_token (the client would drop a good
// token).
func TestUserInfoStoreUnavailableIs503(t *testing.T) {
	h := newOIDCHarness(t)
	tok := h.loginToken("rpbearer", rpRedirect, "openid", nil).str("access_token")
	h.s.st = revokedDownStore{h.st}
	r := h.userinfo(http.MethodGet, "Bearer", tok)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || r.str("error") != oauth.TemporarilyUnavailable {
		t.Fatalf("store down: %d %v %s", r.status, r.header, r.body)
	}
}

// TestUserInfoJWTNotAnIDTokenHint: a signed UserInfo response (typ JWT,
// iss, sub, aud, the server's keys) has no exp and iat, which an ID token
// must carry (OIDC Core §2): it is no id_token_hint at /authorize, as it
// is none at /end_session (TestEndSessionRefusesUserInfoHint).
func TestUserInfoJWTNotAnIDTokenHint(t *testing.T) {
	h := newOIDCHarness(t)
	s := h.newSigner()
	tok := h.loginToken("rpsigned", spaRedirect, "openid email", s).str("access_token")
	r := h.userinfoDPoP(http.MethodGet, h.issuer+PathUserInfo, tok, s)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/jwt" {
		t.Fatalf("signed userinfo: %d %s", r.status, r.body)
	}
	if _, err := h.s.verifyIDToken(string(r.body), "rpsigned"); err == nil {
		t.Fatal("a signed UserInfo response verified as an ID token (id_token_hint)")
	}
}
