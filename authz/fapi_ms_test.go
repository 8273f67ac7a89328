package authz

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/fapi"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/store"
)

// This file tests FAPI 2.0 Message Signing (fapi2-message-signing): signed
// request objects required at PAR (§5.3.1), signed authorization
// responses required (§5.4.1), signed introspection responses (§5.5.1),
// and the metadata that advertises exactly that.

// msClient stores a private_key_jwt client with the jwt client's key under
// profile p.
func (h *harness) msClient(id string, p fapi.Profile, edit func(*store.Client)) {
	h.t.Helper()
	jc, err := h.st.GetClient(context.Background(), "jwt")
	if err != nil {
		h.t.Fatal(err)
	}
	c := &store.Client{ID: id, AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jc.JWKS, RedirectURIs: []string{webRedirect},
		Scopes: []string{"read", "write"}, Audiences: jc.Audiences, Profile: string(p)}
	if edit != nil {
		edit(c)
	}
	if _, err := CreateClient(context.Background(), h.st, c, h.clk.Now()); err != nil {
		h.t.Fatal(err)
	}
}

// clientAuth adds a private_key_jwt assertion of client id, signed with
// the jwt client's key, to form.
func (h *harness) clientAuth(id string, form url.Values) url.Values {
	h.t.Helper()
	now := h.clk.Now()
	form.Set("client_assertion_type", assertionType)
	form.Set("client_assertion", h.assertion(h.jwtKey, jose.ES256, "k1", jwt.Claims{Issuer: id, Subject: id,
		Audience: jwt.Audience{h.issuer}, Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: randomToken(8)}))
	return form
}

// roFor is a request object of client id asking for response mode rm
// ("" for none), signed with the jwt client's key.
func (h *harness) roFor(id, challenge, rm string) string {
	h.t.Helper()
	return h.ro(challenge, func(c map[string]any) {
		c["iss"], c["client_id"] = id, id
		if rm != "" {
			c["response_mode"] = rm
		}
	})
}

// TestFAPIMessageSigningFlow: under fapi2-message-signing a
// private_key_jwt client pushes a signed request object asking for
// response_mode=jwt with a DPoP proof, gets a signed authorization
// response (JARM) and a DPoP-bound token.
func TestFAPIMessageSigningFlow(t *testing.T) {
	h := newHarness(t, withProfile(fapi.MessageSigning))
	s := h.newSigner()
	v, _ := pkce.NewVerifier()
	r := h.post(PathPAR, h.jwtAuth(url.Values{"request": {h.roFor("jwt", pkce.Challenge(v), "jwt")}}, h.issuer), "DPoP", h.parProof(s))
	if r.status != http.StatusCreated {
		t.Fatalf("PAR: %d %s", r.status, r.body)
	}
	q := h.authorize(h.newBrowser(), url.Values{"client_id": {"jwt"}, "request_uri": {r.str("request_uri")}})
	if q.Has("code") || q.Has("iss") {
		t.Fatalf("plain parameters beside the response JWT: %v", q)
	}
	_, cl := h.verifyServerJWS(t, jarmResponse(t, q), jose.ES256)
	code, _ := cl["code"].(string)
	if code == "" || cl["iss"] != h.issuer || cl["aud"] != "jwt" {
		t.Fatalf("response JWT %v", cl)
	}
	tok := h.fapiToken(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {v}, "redirect_uri": {webRedirect}}, s)
	wantToken(t, tok)
	if _, c := decodeJWT(t, tok.str("access_token")); c["cnf"].(map[string]any)["jkt"] != s.Thumbprint() {
		t.Fatalf("token not DPoP-bound: %s", tok.body)
	}
}

// TestFAPIMessageSigningRequiresRequestObject: under the profile, server-
// wide or the client's own, a pushed request that is a plain form is
// refused with invalid_request (Message Signing §5.3.1: the server shall
// require signed request objects at the PAR endpoint); a client outside
// the profile keeps its plain pushes.
func TestFAPIMessageSigningRequiresRequestObject(t *testing.T) {
	v, _ := pkce.NewVerifier()
	form := func(id string) url.Values {
		p := authParams(id, webRedirect, pkce.Challenge(v))
		p.Set("response_mode", "jwt")
		return p
	}
	h := newHarness(t, withProfile(fapi.MessageSigning))
	wantError(t, h.post(PathPAR, h.jwtAuth(form("jwt"), h.issuer)), http.StatusBadRequest, oauth.InvalidRequest)

	h = newHarness(t)
	h.msClient("ms", fapi.MessageSigning, nil)
	r := h.post(PathPAR, h.clientAuth("ms", form("ms")))
	wantError(t, r, http.StatusBadRequest, oauth.InvalidRequest)
	if !strings.Contains(r.str("error_description"), "signed request object") {
		t.Errorf("description %q", r.str("error_description"))
	}
	if r := h.post(PathPAR, h.clientAuth("ms", url.Values{"request": {h.roFor("ms", pkce.Challenge(v), "jwt")}})); r.status != http.StatusCreated {
		t.Fatalf("signed request object of a fapi2-message-signing client: %d %s", r.status, r.body)
	}
	h.msClient("sec", fapi.Security, nil)
	if r := h.post(PathPAR, h.clientAuth("sec", form("sec"))); r.status != http.StatusCreated {
		t.Fatalf("a fapi2-security client lost its plain pushes: %d %s", r.status, r.body)
	}
}

// TestFAPIMessageSigningRequiresJARM: under the profile a request that
// does not ask for a signed response (no response_mode, or query) is
// refused with invalid_request (Message Signing §5.4.1: the server shall
// require the use of JARM), at PAR and at /authorize for a pushed
// request; jwt and query.jwt are accepted. A fapi2-security client may
// still ask for the plain query.
func TestFAPIMessageSigningRequiresJARM(t *testing.T) {
	h := newHarness(t)
	h.msClient("ms", fapi.MessageSigning, nil)
	h.msClient("sec", fapi.Security, nil)
	v, _ := pkce.NewVerifier()
	for _, rm := range []string{"", "query"} {
		r := h.post(PathPAR, h.clientAuth("ms", url.Values{"request": {h.roFor("ms", pkce.Challenge(v), rm)}}))
		wantError(t, r, http.StatusBadRequest, oauth.InvalidRequest)
		if !strings.Contains(r.str("error_description"), "Message Signing §5.4.1") {
			t.Errorf("response_mode %q: description %q", rm, r.str("error_description"))
		}
	}
	for _, rm := range []string{"jwt", "query.jwt"} {
		if r := h.post(PathPAR, h.clientAuth("ms", url.Values{"request": {h.roFor("ms", pkce.Challenge(v), rm)}})); r.status != http.StatusCreated {
			t.Fatalf("response_mode %s: %d %s", rm, r.status, r.body)
		}
	}
	r := h.post(PathPAR, h.clientAuth("sec", authParams("sec", webRedirect, pkce.Challenge(v))))
	if r.status != http.StatusCreated {
		t.Fatalf("fapi2-security, plain query: %d %s", r.status, r.body)
	}
	if q := h.authorize(h.newBrowser(), url.Values{"client_id": {"sec"}, "request_uri": {r.str("request_uri")}}); q.Get("code") == "" {
		t.Fatalf("fapi2-security, plain query: %v", q)
	}
}

// TestFAPIMessageSigningPushedBeforeProfile: a request pushed in plain
// query mode is refused at /authorize, with the error in the query, when
// the client's profile is Message Signing by then (the rule is checked
// again where the pushed request is used).
func TestFAPIMessageSigningPushedBeforeProfile(t *testing.T) {
	h := newHarness(t)
	h.msClient("ms", fapi.Security, nil)
	v, _ := pkce.NewVerifier()
	r := h.post(PathPAR, h.clientAuth("ms", authParams("ms", webRedirect, pkce.Challenge(v))))
	if r.status != http.StatusCreated {
		t.Fatalf("PAR: %d %s", r.status, r.body)
	}
	c, err := h.st.GetClient(context.Background(), "ms")
	if err != nil {
		t.Fatal(err)
	}
	c.Profile = string(fapi.MessageSigning)
	if err := h.st.UpsertClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	h.s.clients.forget("ms")
	q := h.authorize(h.newBrowser(), url.Values{"client_id": {"ms"}, "request_uri": {r.str("request_uri")}})
	if q.Get("error") != oauth.InvalidRequest || q.Has("code") {
		t.Fatalf("pushed plain-query request after the switch: %v", q)
	}
}

// TestFAPIRequestObjectAlgs: under a profile a request object signed with
// an algorithm other than PS256, ES256 or EdDSA is refused with
// invalid_request_object (Security Profile §5.4.1), for a client whose
// own profile it is too (the server-wide list is wider); the same object
// of a client outside the profile is accepted.
func TestFAPIRequestObjectAlgs(t *testing.T) {
	h := newHarness(t)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: rk.Public(), KeyID: "k1", Use: "sig"}}})
	for id, p := range map[string]fapi.Profile{"rsa": fapi.None, "rsams": fapi.MessageSigning} {
		h.msClient(id, p, func(c *store.Client) { c.JWKS = set })
	}
	v, _ := pkce.NewVerifier()
	push := func(id string, alg jose.SignatureAlgorithm) *response {
		now := h.clk.Now()
		c := h.roClaims(pkce.Challenge(v))
		c["iss"], c["client_id"], c["response_mode"] = id, id, "jwt"
		a := h.assertion(rk, jose.PS256, "k1", jwt.Claims{Issuer: id, Subject: id, Audience: jwt.Audience{h.issuer},
			Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: randomToken(8)})
		return h.post(PathPAR, url.Values{"request": {h.signRO(rk, alg, requestObjectType, c)},
			"client_assertion_type": {assertionType}, "client_assertion": {a}})
	}
	if r := push("rsa", jose.PS384); r.status != http.StatusCreated {
		t.Fatalf("PS384 outside the profile: %d %s", r.status, r.body)
	}
	for _, alg := range []jose.SignatureAlgorithm{jose.PS384, jose.RS256} {
		wantError(t, push("rsams", alg), http.StatusBadRequest, oauth.InvalidRequestObject)
	}
	if r := push("rsams", jose.PS256); r.status != http.StatusCreated {
		t.Fatalf("PS256 under the profile: %d %s", r.status, r.body)
	}
}

// TestFAPIRS256SignedResponses: a stored client under the profile that
// registered RS256 for its signed authorization or introspection
// responses is refused with unauthorized_client (Security Profile §5.4.1).
func TestFAPIRS256SignedResponses(t *testing.T) {
	h := newHarness(t)
	h.msClient("jarmrs", fapi.MessageSigning, func(c *store.Client) { c.AuthorizationSignedResponseAlg = store.AlgRS256 })
	h.msClient("intrs", fapi.Security, func(c *store.Client) { c.IntrospectionSignedResponseAlg = store.AlgRS256 })
	h.msClient("ok", fapi.MessageSigning, nil)
	for _, id := range []string{"jarmrs", "intrs"} {
		r := h.post(PathIntrospect, h.clientAuth(id, url.Values{"token": {"x"}}))
		wantError(t, r, http.StatusBadRequest, oauth.UnauthorizedClient)
	}
	if r := h.post(PathIntrospect, h.clientAuth("ok", url.Values{"token": {"x"}})); r.status != http.StatusOK {
		t.Fatalf("a compliant client: %d %s", r.status, r.body)
	}
}

// TestFAPIMessageSigningIntrospection: the token of a Message Signing
// client, introspected with Accept: application/token-introspection+jwt,
// is answered as a JWT signed with the server's ES256 key (Message
// Signing §5.5.1, RFC 9701 §5), and as JSON without the header.
func TestFAPIMessageSigningIntrospection(t *testing.T) {
	h := newHarness(t, withProfile(fapi.MessageSigning))
	s := h.newSigner()
	v, _ := pkce.NewVerifier()
	r := h.post(PathPAR, h.jwtAuth(url.Values{"request": {h.roFor("jwt", pkce.Challenge(v), "jwt")}}, h.issuer), "DPoP", h.parProof(s))
	q := h.authorize(h.newBrowser(), url.Values{"client_id": {"jwt"}, "request_uri": {r.str("request_uri")}})
	_, cl := h.verifyServerJWS(t, jarmResponse(t, q), jose.ES256)
	tok := h.fapiToken(url.Values{"grant_type": {"authorization_code"}, "code": {cl["code"].(string)}, "code_verifier": {v}, "redirect_uri": {webRedirect}}, s)
	wantToken(t, tok)
	f := h.jwtAuth(url.Values{"token": {tok.str("access_token")}}, h.issuer)
	ti := h.introspectionJWTOf(t, h.post(PathIntrospect, f, "Accept", mediaTypeIntrospectionJWT), "jwt")
	if ti["active"] != true || ti["client_id"] != "jwt" || ti["token_type"] != "DPoP" {
		t.Fatalf("token_introspection %v", ti)
	}
	if r := h.post(PathIntrospect, h.jwtAuth(url.Values{"token": {tok.str("access_token")}}, h.issuer)); r.status != http.StatusOK || r.json["active"] != true {
		t.Fatalf("plain introspection: %d %s", r.status, r.body)
	}
}

// TestFAPIMessageSigningMetadata: under a server-wide fapi2-message-
// signing the metadata advertises exactly what is enforced: signed
// request objects required, only the JWT response modes, request-object
// and response-signing algorithms within PS256, ES256 and EdDSA. Under
// fapi2-security the plain query stays.
func TestFAPIMessageSigningMetadata(t *testing.T) {
	md := newHarness(t, withProfile(fapi.MessageSigning)).s.Metadata()
	if !md.RequireSignedRequestObject || !md.RequestParameterSupported || !md.RequirePushedAuthorizationRequests {
		t.Errorf("require_signed_request_object %v, request_parameter_supported %v, require_pushed %v",
			md.RequireSignedRequestObject, md.RequestParameterSupported, md.RequirePushedAuthorizationRequests)
	}
	if !slices.Equal(md.ResponseModesSupported, []string{"query.jwt", "jwt"}) {
		t.Errorf("response_modes_supported %v, want [query.jwt jwt]", md.ResponseModesSupported)
	}
	for name, algs := range map[string][]string{
		"request_object_signing_alg_values_supported": md.RequestObjectSigningAlgValuesSupported,
		"authorization_signing_alg_values_supported":  md.AuthorizationSigningAlgValuesSupported,
		"introspection_signing_alg_values_supported":  md.IntrospectionSigningAlgValuesSupported,
		"userinfo_signing_alg_values_supported":       md.UserinfoSigningAlgValuesSupported,
	} {
		if len(algs) == 0 || slices.ContainsFunc(algs, func(a string) bool { return !slices.Contains(fapi.SigningAlgs, a) }) {
			t.Errorf("%s %v: want a non-empty subset of %v", name, algs, fapi.SigningAlgs)
		}
	}
	sec := newHarness(t, withProfile(fapi.Security)).s.Metadata()
	if sec.RequireSignedRequestObject || !slices.Contains(sec.ResponseModesSupported, "query") {
		t.Errorf("fapi2-security: require_signed_request_object %v, response modes %v", sec.RequireSignedRequestObject, sec.ResponseModesSupported)
	}
}

// TestFAPIMessageSigningFeatureMissing: a build that lacks a Message
// Signing feature (fapi.Supported) refuses a stored client under the
// profile with unauthorized_client rather than serving it as compliant.
func TestFAPIMessageSigningFeatureMissing(t *testing.T) {
	delete(fapi.Supported, fapi.JARM)
	defer func() { fapi.Supported[fapi.JARM] = true }()
	h := newHarness(t)
	h.msClient("ms", fapi.MessageSigning, nil)
	r := h.post(PathIntrospect, h.clientAuth("ms", url.Values{"token": {"x"}}))
	wantError(t, r, http.StatusBadRequest, oauth.UnauthorizedClient)
	if !strings.Contains(r.str("error_description"), "not supported yet") {
		t.Errorf("description %q does not say the profile is not supported yet", r.str("error_description"))
	}
}

// TestFAPINoCORSAtAuthorize: the authorization endpoint answers no CORS
// request, preflight or simple, with an Access-Control-Allow-Origin
// (FAPI 2.0 Security Profile §5.2.3: clients redirect, never call it).
func TestFAPINoCORSAtAuthorize(t *testing.T) {
	h := newHarness(t, withProfile(fapi.Security))
	for _, m := range []string{http.MethodOptions, http.MethodGet, http.MethodPost} {
		req, err := http.NewRequest(m, h.issuer+PathAuthorize+"?client_id=jwt", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", http.MethodGet)
		r := h.do(h.srv.Client(), req)
		for k := range r.header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Errorf("%s /authorize with an Origin: %s: %s", m, k, r.header.Get(k))
			}
		}
	}
}

// TestFAPINonce64: a nonce of 64 characters is accepted and echoed in
// the ID token (FAPI 2.0 Security Profile §5.3.2.2: servers supporting
// OpenID Connect shall support nonce values up to 64 characters).
func TestFAPINonce64(t *testing.T) {
	h := newHarness(t)
	n := strings.Repeat("n0-_", 16)
	r, _ := h.oidcTokens(h.newBrowser(), oidcExtra(n))
	if _, cl := h.verifyIDToken(r.str("id_token")); cl["nonce"] != n {
		t.Fatalf("nonce %v, want the 64 characters sent", cl["nonce"])
	}
}

// TestFAPIMessageSigningUserInfo: a Message Signing client that
// registered userinfo_signed_response_alg gets its UserInfo response as a
// JWT signed with ES256 (OIDC Core §5.3.2), through the whole signed
// flow: request object, JARM, DPoP-bound token.
func TestFAPIMessageSigningUserInfo(t *testing.T) {
	h := newHarness(t)
	h.msClient("ms", fapi.MessageSigning, func(c *store.Client) {
		c.UserinfoSignedResponseAlg, c.Scopes = store.AlgES256, []string{"openid", "read"}
	})
	s := h.newSigner()
	v, _ := pkce.NewVerifier()
	ro := h.ro(pkce.Challenge(v), func(c map[string]any) {
		c["iss"], c["client_id"], c["response_mode"], c["scope"] = "ms", "ms", "jwt", "openid read"
	})
	r := h.post(PathPAR, h.clientAuth("ms", url.Values{"request": {ro}}), "DPoP", h.parProof(s))
	if r.status != http.StatusCreated {
		t.Fatalf("PAR: %d %s", r.status, r.body)
	}
	q := h.authorize(h.newBrowser(), url.Values{"client_id": {"ms"}, "request_uri": {r.str("request_uri")}})
	_, cl := h.verifyServerJWS(t, jarmResponse(t, q), jose.ES256)
	code, _ := cl["code"].(string)
	tok := h.post(PathToken, h.clientAuth("ms", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"code_verifier": {v}, "redirect_uri": {webRedirect}}), "DPoP", h.proof(s))
	wantToken(t, tok)
	u := h.userinfoDPoP(http.MethodGet, h.issuer+PathUserInfo, tok.str("access_token"), s)
	if u.status != http.StatusOK || u.header.Get("Content-Type") != "application/jwt" {
		t.Fatalf("UserInfo: %d %q %s", u.status, u.header.Get("Content-Type"), u.body)
	}
	if _, c := h.verifyServerJWS(t, string(u.body), jose.ES256); c["sub"] == nil || c["aud"] != "ms" {
		t.Fatalf("signed UserInfo claims %v", c)
	}
}
