package authz

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/store"
)

// roClaims are the claims of a good request object of the jwt client: an
// authorization request for webRedirect, valid from now for five minutes.
func (h *harness) roClaims(challenge string) map[string]any {
	now := h.clk.Now()
	return map[string]any{
		"iss": "jwt", "aud": h.issuer, "client_id": "jwt",
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": randomToken(12),
		"response_type": "code", "redirect_uri": webRedirect, "scope": "read", "state": "st-object",
		"code_challenge": challenge, "code_challenge_method": "S256",
	}
}

// signRO signs payload (a claims map, or raw JSON bytes) as a request
// object with key under alg; typ "" leaves the header without typ.
func (h *harness) signRO(key any, alg jose.SignatureAlgorithm, typ string, payload any) string {
	h.t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", "k1")
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	b, ok := payload.([]byte)
	if !ok {
		if b, err = json.Marshal(payload); err != nil {
			h.t.Fatal(err)
		}
	}
	jws, err := sig.Sign(b)
	if err != nil {
		h.t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// signROHeader signs claims as a request object of the jwt client with
// one more header parameter.
func (h *harness) signROHeader(name string, value any, claims map[string]any) string {
	h.t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader(jose.HeaderKey(name), value)
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: h.jwtKey}, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// ro is a request object of the jwt client, signed with its key, with
// the good claims changed by edit.
func (h *harness) ro(challenge string, edit func(map[string]any)) string {
	h.t.Helper()
	c := h.roClaims(challenge)
	if edit != nil {
		edit(c)
	}
	return h.signRO(h.jwtKey, jose.ES256, requestObjectType, c)
}

// pushRO pushes request object obj as the jwt client, with extra form
// parameters.
func (h *harness) pushRO(obj string, extra url.Values) *response {
	h.t.Helper()
	f := url.Values{"request": {obj}}
	for k, v := range extra {
		f[k] = v
	}
	return h.post(PathPAR, h.jwtAuth(f, h.issuer))
}

// TestRequestObjectRefusals: every request object that fails a rule of
// RFC 9101 or FAPI 2.0 Message Signing is refused at the PAR endpoint
// with invalid_request_object, before anything is stored.
func TestRequestObjectRefusals(t *testing.T) {
	h := newHarness(t)
	ch := pkce.Challenge(strings.Repeat("v", 43))
	now := h.clk.Now()
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	del := func(k string) func(map[string]any) { return func(c map[string]any) { delete(c, k) } }
	good := h.ro(ch, nil)
	parts := strings.Split(good, ".")
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	payload, _ := json.Marshal(h.roClaims(ch))
	tests := []struct{ name, obj, want string }{
		{"bad signature", parts[0] + "." + parts[1] + "." + b64(strings.Repeat("x", 64)), "signature does not verify"},
		{"payload swapped", parts[0] + "." + strings.Split(h.ro(ch, set("scope", "write")), ".")[1] + "." + parts[2], "signature does not verify"},
		{"another client's key", h.signRO(other, jose.ES256, requestObjectType, h.roClaims(ch)), "signature does not verify"},
		{"alg none", b64(`{"alg":"none","typ":"oauth-authz-req+jwt"}`) + "." + parts[1] + ".", "allowed algorithm"},
		{"HS256", h.signRO([]byte("0123456789abcdef0123456789abcdef"), jose.HS256, requestObjectType, h.roClaims(ch)), "allowed algorithm"},
		{"unsigned JSON", b64(string(payload)), "not a compact JWS"},
		{"encrypted (JWE)", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", "encrypted request objects are not supported"},
		{"typ of a DPoP proof", h.signRO(h.jwtKey, jose.ES256, "dpop+jwt", h.roClaims(ch)), "typ must be"},
		{"wrong aud", h.ro(ch, set("aud", "https://other.example")), "aud must be"},
		{"aud the PAR endpoint", h.ro(ch, set("aud", h.issuer+PathPAR)), "aud must be"},
		{"no aud", h.ro(ch, del("aud")), "aud must be"},
		{"no exp", h.ro(ch, del("exp")), "exp is required"},
		{"expired", h.ro(ch, set("exp", now.Add(-time.Second).Unix())), "exp is required"},
		{"no nbf", h.ro(ch, del("nbf")), "nbf is required"},
		{"nbf in the future", h.ro(ch, set("nbf", now.Add(time.Minute).Unix())), "nbf is required"},
		{"nbf over 60 minutes old", h.ro(ch, func(c map[string]any) {
			c["nbf"], c["exp"] = now.Add(-61*time.Minute).Unix(), now.Add(time.Minute).Unix()
		}), "60 minutes"},
		{"lifetime over 60 minutes", h.ro(ch, set("exp", now.Add(61*time.Minute).Unix())), "lifetime (exp - nbf) exceeds 60 minutes"},
		{"iat in the future", h.ro(ch, set("iat", now.Add(time.Minute).Unix())), "iat is in the future"},
		{"no jti", h.ro(ch, del("jti")), "jti is required"},
		{"iss another client", h.ro(ch, set("iss", "web")), "iss must be"},
		{"no iss", h.ro(ch, del("iss")), "iss must be"},
		{"client_id another client", h.ro(ch, set("client_id", "web")), "client_id must be"},
		{"no client_id", h.ro(ch, del("client_id")), "client_id must be"},
		{"case-variant claim", h.ro(ch, set("Client_Id", "web")), "exactly spelled"},
		{"case-variant exp", h.ro(ch, set("EXP", now.Add(time.Hour).Unix())), "exactly spelled"},
		{"case-variant aud", h.signRO(h.jwtKey, jose.ES256, "", []byte(strings.Replace(string(payload), `"aud"`, `"AUD":"x","aud"`, 1))), "exactly spelled"},
		{"case-variant header", h.signROHeader("Kid", "k1", h.roClaims(ch)), "exactly spelled"},
		{"duplicate member", h.signRO(h.jwtKey, jose.ES256, requestObjectType, []byte(strings.Replace(string(payload), `"client_id":"jwt"`, `"client_id":"jwt","client_id":"web"`, 1))), "unique"},
		{"duplicate nested member", h.ro(ch, set("claims", json.RawMessage(`{"id_token":{"acr":null,"acr":{"essential":true}}}`))), "unique"},
		{"nested request", h.ro(ch, set("request", good)), "may not hold request"},
		{"nested request_uri", h.ro(ch, set("request_uri", "urn:ietf:params:oauth:request_uri:x")), "may not hold request"},
		{"boolean parameter", h.ro(ch, set("scope", true)), "parameters must be strings"},
		{"array parameter", h.ro(ch, set("redirect_uri", []string{webRedirect, "https://evil.example/cb"})), "parameters must be strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.pushRO(tt.obj, nil)
			wantError(t, r, http.StatusBadRequest, oauth.InvalidRequestObject)
			if d := r.str("error_description"); !strings.Contains(d, tt.want) {
				t.Fatalf("description %q, want one about %q", d, tt.want)
			}
		})
	}
	t.Run("the good one passes", func(t *testing.T) {
		if r := h.pushRO(good, nil); r.status != http.StatusCreated {
			t.Fatalf("PAR: %d %s", r.status, r.body)
		}
	})
}

// TestRequestObjectTypes: a request object's typ may be
// oauth-authz-req+jwt (any case, with or without application/), JWT, or
// absent (RFC 9101 §10.8; FAPI 2.0 Message Signing §5.3.2 ...).
func TestRequestObjectTypes(t *testing.T) {
	h := newHarness(t)
	ch := pkce.Challenge(strings.Repeat("v", 43))
	for _, typ := range []string{"", "JWT", requestObjectType, "application/oauth-authz-req+jwt", "OAuth-Authz-Req+JWT"} {
		if r := h.pushRO(h.signRO(h.jwtKey, jose.ES256, typ, h.roClaims(ch)), nil); r.status != http.StatusCreated {
			t.Errorf("typ %q: %d %s", typ, r.status, r.body)
		}
	}
	for _, typ := range []string{"at+jwt", "logout+jwt", "oauth-authz-req", "jwt+oauth-authz-req"} {
		wantError(t, h.pushRO(h.signRO(h.jwtKey, jose.ES256, typ, h.roClaims(ch)), nil), http.StatusBadRequest, oauth.InvalidRequestObject)
	}
}

// TestRequestObjectReplayAcrossInstances: a request object's jti is used
// once across every instance sharing the store, at PAR and at the
// authorization endpoint alike (RFC 9101 §10.1 replay).
func TestRequestObjectReplayAcrossInstances(t *testing.T) {
	h := newHarness(t)
	s2 := h.newServer() // a second instance on the same store
	obj := h.ro(pkce.Challenge(strings.Repeat("v", 43)), nil)
	if r := h.pushRO(obj, nil); r.status != http.StatusCreated {
		t.Fatalf("first use: %d %s", r.status, r.body)
	}
	// The same object at the second instance.
	form := h.jwtAuth(url.Values{"request": {obj}}, h.issuer)
	req := httptest.NewRequest(http.MethodPost, h.issuer+PathPAR, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s2.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !bytes.Contains(rec.Body.Bytes(), []byte(`"invalid_request_object"`)) ||
		!bytes.Contains(rec.Body.Bytes(), []byte("replay")) {
		t.Fatalf("replay at the second instance: %d %s", rec.Code, rec.Body)
	}
	// And at the authorization endpoint of the first.
	r := h.newBrowser().get(h.issuer + PathAuthorize + "?" + url.Values{"client_id": {"jwt"}, "request": {obj}}.Encode())
	if r.status != http.StatusBadRequest || !bytes.Contains(r.body, []byte(oauth.InvalidRequestObject)) {
		t.Fatalf("replay at /authorize: %d %s", r.status, r.body)
	}
}

// TestRequestObjectThroughPAR: a signed request object pushed to the PAR
// endpoint, then its request_uri at the authorization endpoint, gives a
// code that the token endpoint exchanges for tokens; the parameters are
// the object's only: those the form sends next to it are ignored (RFC
// 9101 §6.3, RFC 9126 §3).
func TestRequestObjectThroughPAR(t *testing.T) {
	h := newHarness(t)
	v, _ := pkce.NewVerifier()
	obj := h.ro(pkce.Challenge(v), nil)
	r := h.pushRO(obj, url.Values{"scope": {"write"}, "state": {"st-form"}, "redirect_uri": {"https://evil.example/cb"}, "code_challenge": {pkce.Challenge("x")}})
	if r.status != http.StatusCreated {
		t.Fatalf("PAR: %d %s", r.status, r.body)
	}
	q := h.authorize(h.newBrowser(), url.Values{"client_id": {"jwt"}, "request_uri": {r.str("request_uri")}})
	if q.Get("code") == "" || q.Get("state") != "st-object" {
		t.Fatalf("authorization response %v, want a code and the object's state", q)
	}
	tr := h.post(PathToken, h.jwtAuth(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "code_verifier": {v}, "redirect_uri": {webRedirect}}, h.issuer),
		"DPoP", h.proof(h.newSigner()))
	wantToken(t, tr)
	if tr.str("scope") != "read" {
		t.Fatalf("scope %q, want the object's read", tr.str("scope"))
	}
}

// TestRequestObjectAtAuthorize: a request object by value at the
// authorization endpoint; the query's other parameters are ignored, and
// its client_id must be the object's.
func TestRequestObjectAtAuthorize(t *testing.T) {
	h := newHarness(t)
	v, _ := pkce.NewVerifier()
	q := h.authorize(h.newBrowser(), url.Values{"client_id": {"jwt"}, "request": {h.ro(pkce.Challenge(v), nil)},
		"state": {"st-query"}, "scope": {"write"}, "redirect_uri": {"https://evil.example/cb"}})
	if q.Get("code") == "" || q.Get("state") != "st-object" {
		t.Fatalf("authorization response %v, want a code and the object's state", q)
	}
	// The outer client_id names another client: the object is verified
	// with that client's keys (none) and refused.
	r := h.newBrowser().get(h.issuer + PathAuthorize + "?" + url.Values{"client_id": {"web"}, "request": {h.ro(pkce.Challenge(v), nil)}}.Encode())
	if r.status != http.StatusBadRequest || !bytes.Contains(r.body, []byte(oauth.InvalidRequestObject)) {
		t.Fatalf("another client_id: %d %s", r.status, r.body)
	}
	// request and request_uri together.
	r = h.newBrowser().get(h.issuer + PathAuthorize + "?" + url.Values{"client_id": {"jwt"}, "request": {h.ro(pkce.Challenge(v), nil)}, "request_uri": {requestURIPrefix + "x"}}.Encode())
	if r.status != http.StatusBadRequest || !bytes.Contains(r.body, []byte(oauth.InvalidRequest)) {
		t.Fatalf("request and request_uri: %d %s", r.status, r.body)
	}
}

// TestRequestURIByReference: a request_uri that is not one the PAR
// endpoint issued is request_uri_not_supported, shown on a page: Ward
// fetches nothing a client names.
func TestRequestURIByReference(t *testing.T) {
	h := newHarness(t)
	for _, ru := range []string{"https://client.example/request.jwt", "http://127.0.0.1:1/x", "urn:example:x"} {
		r := h.newBrowser().get(h.issuer + PathAuthorize + "?" + url.Values{"client_id": {"web"}, "request_uri": {ru}}.Encode())
		if r.status != http.StatusBadRequest || !bytes.Contains(r.body, []byte(errRequestURINotSupported)) {
			t.Fatalf("%s: %d %s", ru, r.status, r.body)
		}
	}
}

// TestRequireSignedRequestObject: a client with
// require_signed_request_object, and every client under
// request_objects.required, must send a request object: a plain PAR
// request is invalid_request, and so is a plain authorization request
// (to the redirect URI); a request object passes.
func TestRequireSignedRequestObject(t *testing.T) {
	h := newHarness(t)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: h.jwtKey.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	c := &store.Client{ID: "jar", AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: set, RedirectURIs: []string{webRedirect},
		Scopes: []string{"read", "write"}, RequireSignedRequestObject: true}
	if _, err := CreateClient(context.Background(), h.st, c, h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	v, _ := pkce.NewVerifier()
	p := authParams("jar", webRedirect, pkce.Challenge(v))
	auth := func(f url.Values) url.Values {
		f = h.jwtAuth(f, h.issuer)
		now := h.clk.Now()
		f.Set("client_assertion", h.assertion(h.jwtKey, jose.ES256, "k1", jwt.Claims{Issuer: "jar", Subject: "jar", Audience: jwt.Audience{h.issuer},
			Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: randomToken(8)}))
		return f
	}
	wantError(t, h.post(PathPAR, auth(url.Values{"scope": p["scope"], "response_type": {"code"}, "redirect_uri": {webRedirect},
		"code_challenge": p["code_challenge"], "code_challenge_method": {"S256"}})), http.StatusBadRequest, oauth.InvalidRequest)
	if q := redirectQuery(t, h.newBrowser().get(h.issuer+PathAuthorize+"?"+p.Encode())); q.Get("error") != oauth.InvalidRequest || q.Get("iss") != h.issuer {
		t.Fatalf("plain request: %v", q)
	}
	obj := h.ro(pkce.Challenge(v), func(m map[string]any) { m["iss"], m["client_id"] = "jar", "jar" })
	r := h.post(PathPAR, auth(url.Values{"request": {obj}}))
	if r.status != http.StatusCreated {
		t.Fatalf("PAR with a request object: %d %s", r.status, r.body)
	}
	if q := h.authorize(h.newBrowser(), url.Values{"client_id": {"jar"}, "request_uri": {r.str("request_uri")}}); q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}

	g := newHarness(t, func(c *config.Config) { c.RequestObjects.Required = true })
	r = g.post(PathPAR, authParams("web", webRedirect, pkce.Challenge(v)), g.basic("web")...)
	wantError(t, r, http.StatusBadRequest, oauth.InvalidRequest)
	if md := g.s.Metadata(); !md.RequireSignedRequestObject || !md.RequestParameterSupported || md.RequestURIParameterSupported {
		t.Fatalf("metadata: %+v", md)
	}
}

// TestRequestObjectPARNonceRetry: a request object pushed with a DPoP
// proof that lacks the server's nonce gets use_dpop_nonce, and the same
// object pushed again with the nonce is accepted: its jti is used only
// once the proof passed (openid-client retries this way).
func TestRequestObjectPARNonceRetry(t *testing.T) {
	h := newHarness(t, func(c *configT) { c.DPoP.Nonce.Enabled = true })
	s := h.newSigner()
	obj := h.ro(pkce.Challenge(strings.Repeat("v", 43)), nil)
	push := func(proof string) *response {
		return h.post(PathPAR, h.jwtAuth(url.Values{"request": {obj}}, h.issuer), "DPoP", proof)
	}
	r := push(h.parProof(s))
	wantError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	r = push(h.parProof(s, dpop.WithNonce(r.header.Get("DPoP-Nonce"))))
	if r.status != http.StatusCreated {
		t.Fatalf("with the nonce: %d %s", r.status, r.body)
	}
	wantError(t, push(h.parProof(s, dpop.WithNonce(r.header.Get("DPoP-Nonce")))), http.StatusBadRequest, oauth.InvalidRequestObject)
}

// TestCreateClientRequireSignedRequestObjectNeedsKeys: a client that must
// sign its request objects cannot be created without keys to verify them.
func TestCreateClientRequireSignedRequestObjectNeedsKeys(t *testing.T) {
	h := newHarness(t)
	for _, c := range []*store.Client{
		{ID: "nokeys", AuthMethod: oauth.AuthSecretBasic, RedirectURIs: []string{webRedirect}, RequireSignedRequestObject: true},
		{ID: "pub", AuthMethod: oauth.AuthNone, RedirectURIs: []string{webRedirect}, RequireSignedRequestObject: true},
	} {
		if _, err := CreateClient(context.Background(), h.st, c, h.clk.Now()); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "require_signed_request_object") {
			t.Errorf("client %s: %v, want ErrConfig naming require_signed_request_object", c.ID, err)
		}
	}
}

// TestRequestObjectNotAClientAssertion: a request object travels through
// the browser (or to PAR) and may carry sub = client_id, so its claims
// pass RFC 7523 §3. Presented as a client_assertion it must not
// authenticate the client: an explicitly typed JWT of another kind is
// not a client assertion (RFC 8725 §3.11), and neither is an untyped JWT
// that carries an authorization request (response_type).
func TestRequestObjectNotAClientAssertion(t *testing.T) {
	h := newHarness(t, withoutAuthBackoff())
	v, _ := pkce.NewVerifier()
	revoke := func(assertion string) *response {
		return h.post(PathRevoke, url.Values{"token": {"x"},
			"client_assertion_type": {assertionType}, "client_assertion": {assertion}})
	}
	now := h.clk.Now()
	assertion := func() map[string]any {
		return map[string]any{"iss": "jwt", "sub": "jwt", "aud": h.issuer, "jti": randomToken(8), "exp": now.Add(time.Minute).Unix()}
	}
	// Claims that pass RFC 7523 §3, under the type of another JWT.
	for _, typ := range []string{requestObjectType, "application/oauth-authz-req+jwt", "dpop+jwt", "at+jwt", "logout+jwt"} {
		t.Run("assertion claims typ "+typ, func(t *testing.T) {
			r := revoke(h.signRO(h.jwtKey, jose.ES256, typ, assertion()))
			if r.status != http.StatusUnauthorized || r.str("error") != oauth.InvalidClient {
				t.Fatalf("typ %q as client_assertion: %d %s", typ, r.status, r.body)
			}
		})
	}
	// A request object with sub = client_id, typed as RFC 9101 says or
	// untyped as it allows.
	for _, typ := range []string{requestObjectType, "JWT", ""} {
		t.Run("request object typ "+typ, func(t *testing.T) {
			c := h.roClaims(pkce.Challenge(v))
			c["sub"] = "jwt"
			r := revoke(h.signRO(h.jwtKey, jose.ES256, typ, c))
			if r.status != http.StatusUnauthorized || r.str("error") != oauth.InvalidClient {
				t.Fatalf("request object (typ %q) as client_assertion: %d %s", typ, r.status, r.body)
			}
		})
	}
	// A client assertion typed as draft-ietf-oauth-rfc7523bis says
	// authenticates.
	r := revoke(h.signRO(h.jwtKey, jose.ES256, "client-authentication+jwt", assertion()))
	if r.status != http.StatusOK {
		t.Fatalf("client-authentication+jwt assertion: %d %s", r.status, r.body)
	}
}
