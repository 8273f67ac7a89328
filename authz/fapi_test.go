package authz

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/fapi"
	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/store"
)

// withProfile puts the whole server under a FAPI 2.0 profile.
func withProfile(p fapi.Profile) harnessOpt {
	return func(c *config.Config) { c.AuthorizationServer.Profile = p }
}

// signedAssertion signs any claims (an aud array, say) with the jwt
// client's key.
func (h *harness) signedAssertion(claims map[string]any) string {
	h.t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: h.jwtKey}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		h.t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// jwtAuth adds a private_key_jwt assertion of the jwt client with aud to
// form (aud a string or a []string).
func (h *harness) jwtAuth(form url.Values, aud any) url.Values {
	h.t.Helper()
	now := h.clk.Now()
	form.Set("client_assertion_type", assertionType)
	form.Set("client_assertion", h.signedAssertion(map[string]any{
		"iss": "jwt", "sub": "jwt", "aud": aud, "jti": randomToken(8),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}))
	return form
}

// fapiCode runs PAR (private_key_jwt, a DPoP proof of s), the browser and
// returns the code and its verifier for the jwt client.
func (h *harness) fapiCode(s *dpop.Signer) (string, string) {
	h.t.Helper()
	v, _ := pkce.NewVerifier()
	p := h.jwtAuth(authParams("jwt", webRedirect, pkce.Challenge(v)), h.issuer)
	r := h.post(PathPAR, p, "DPoP", h.parProof(s))
	if r.status != http.StatusCreated {
		h.t.Fatalf("PAR: %d %s", r.status, r.body)
	}
	q := h.authorize(h.newBrowser(), url.Values{"client_id": {"jwt"}, "request_uri": {r.str("request_uri")}})
	if q.Get("code") == "" || q.Get("iss") != h.issuer {
		h.t.Fatalf("authorization response %v: want code and iss (RFC 9207)", q)
	}
	return q.Get("code"), v
}

// fapiToken posts a token request of the jwt client with a DPoP proof.
func (h *harness) fapiToken(form url.Values, s *dpop.Signer) *response {
	h.t.Helper()
	return h.post(PathToken, h.jwtAuth(form, h.issuer), "DPoP", h.proof(s))
}

// TestFAPIFlow: a private_key_jwt client with PAR and DPoP gets
// DPoP-bound tokens under fapi2-security.
func TestFAPIFlow(t *testing.T) {
	h := newHarness(t, withProfile(fapi.Security))
	s := h.newSigner()
	code, v := h.fapiCode(s)
	r := h.fapiToken(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {v}, "redirect_uri": {webRedirect}}, s)
	wantToken(t, r)
	if _, cl := decodeJWT(t, r.str("access_token")); cl["cnf"].(map[string]any)["jkt"] != s.Thumbprint() || r.str("token_type") != "DPoP" {
		t.Fatalf("token not DPoP-bound: %s", r.body)
	}
}

// TestFAPIRequiresPAR: under the profile an authorization request that
// was not pushed is refused with invalid_request (FAPI 2.0 Security
// Profile §5.3.2.2), server-wide or for a client whose own profile it is.
func TestFAPIRequiresPAR(t *testing.T) {
	h := newHarness(t, withProfile(fapi.Security))
	v, _ := pkce.NewVerifier()
	q := h.authorize(h.newBrowser(), authParams("jwt", webRedirect, pkce.Challenge(v)))
	if q.Get("error") != oauth.InvalidRequest || q.Get("iss") != h.issuer {
		t.Fatalf("unpushed request under the profile: %v, want error=invalid_request", q)
	}

	h = newHarness(t)
	set := `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`
	c := &store.Client{ID: "bank", AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: []byte(set), RedirectURIs: []string{webRedirect},
		Scopes: []string{"read", "write"}, Profile: string(fapi.Security)}
	if _, err := CreateClient(context.Background(), h.st, c, h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if q := h.authorize(h.newBrowser(), authParams("bank", webRedirect, pkce.Challenge(v))); q.Get("error") != oauth.InvalidRequest {
		t.Fatalf("unpushed request of a fapi2-security client: %v, want error=invalid_request", q)
	}
	if q := h.authorize(h.newBrowser(), authParams("jwt", webRedirect, pkce.Challenge(v))); q.Get("code") == "" {
		t.Fatalf("a client outside the profile lost its unpushed requests: %v", q)
	}
}

// TestFAPIRefusesClients: under the profile, public clients and
// client_secret_* clients are refused with invalid_client, a client whose
// tokens would be bearer tokens with unauthorized_client (FAPI 2.0
// Security Profile §5.3.2.1), at PAR and at the token endpoint.
func TestFAPIRefusesClients(t *testing.T) {
	h := newHarness(t, withProfile(fapi.Security), withoutAuthBackoff())
	v, _ := pkce.NewVerifier()
	for _, id := range []string{"spa", "web", "post"} {
		redirect := webRedirect
		if id == "spa" {
			redirect = spaRedirect
		}
		p := authParams(id, redirect, pkce.Challenge(v))
		wantError(t, h.post(PathPAR, p, h.auth(id, p)...), http.StatusUnauthorized, oauth.InvalidClient)
	}
	wantError(t, h.token("post", url.Values{"grant_type": {"client_credentials"}}, h.newSigner()), http.StatusUnauthorized, oauth.InvalidClient)
	wantError(t, h.token("spa", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, h.newSigner()), http.StatusUnauthorized, oauth.InvalidClient)

}

// TestFAPIBearerClient: a private_key_jwt client stored for bearer tokens,
// or for RS256 ID tokens, is refused under the profile with
// unauthorized_client (§5.3.2.1, §5.4.1).
func TestFAPIBearerClient(t *testing.T) {
	h := newHarness(t, withProfile(fapi.Security))
	jwks, err := h.st.GetClient(context.Background(), "jwt")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*store.Client{
		{ID: "jwtbearer", SenderConstraint: store.ConstraintBearer},
		{ID: "jwtrs256", IDTokenSignedResponseAlg: store.AlgRS256},
	} {
		c.AuthMethod, c.JWKS, c.RedirectURIs, c.GrantTypes = oauth.AuthPrivateKeyJWT, jwks.JWKS, []string{webRedirect}, []oauth.GrantType{oauth.GrantClientCredentials}
		if _, err := CreateClient(context.Background(), h.st, c, h.clk.Now()); err != nil {
			t.Fatal(err)
		}
		now := h.clk.Now()
		a := h.assertion(h.jwtKey, jose.ES256, "k1", jwt.Claims{Issuer: c.ID, Subject: c.ID, Audience: jwt.Audience{h.issuer},
			Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: randomToken(8)})
		r := h.post(PathToken, url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType}, "client_assertion": {a}},
			"DPoP", h.proof(h.newSigner()))
		wantError(t, r, http.StatusBadRequest, oauth.UnauthorizedClient)
	}
}

// TestFAPIAssertionAudience: under the profile a client assertion's aud
// is exactly the issuer, as a string (FAPI 2.0 Security Profile
// §5.3.2.1); the token and PAR endpoints and arrays are refused with
// invalid_client. Outside the profile they are accepted (RFC 7523 §3,
// RFC 9126 §2).
func TestFAPIAssertionAudience(t *testing.T) {
	for _, profile := range []fapi.Profile{fapi.Security, fapi.None} {
		h := newHarness(t, withProfile(profile), withoutAuthBackoff())
		for _, aud := range []any{h.issuer + PathToken, h.issuer + PathPAR, []string{h.issuer}, []string{h.issuer, h.issuer + PathToken}, h.issuer} {
			r := h.post(PathToken, h.jwtAuth(url.Values{"grant_type": {"client_credentials"}}, aud), "DPoP", h.proof(h.newSigner()))
			if profile == fapi.None || aud == any(h.issuer) {
				wantToken(t, r)
				continue
			}
			wantError(t, r, http.StatusUnauthorized, oauth.InvalidClient)
		}
	}
}

// TestFAPIRefreshNotRotated: under the profile a confidential client's
// refresh token does not rotate (FAPI 2.0 Security Profile §5.3.2.1): the
// response has no refresh_token and the same token works again.
func TestFAPIRefreshNotRotated(t *testing.T) {
	h := newHarness(t, withProfile(fapi.Security))
	s := h.newSigner()
	code, v := h.fapiCode(s)
	r := h.fapiToken(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {v}, "redirect_uri": {webRedirect}}, s)
	wantToken(t, r)
	rt := r.str("refresh_token")
	if rt == "" {
		t.Fatal("no refresh token")
	}
	for range 3 {
		h.clk.Advance(25 * time.Hour) // past refresh_token_ttl: the token lives as long as its grant
		r := h.fapiToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, s)
		wantToken(t, r)
		if r.str("refresh_token") != "" {
			t.Fatalf("the refresh token rotated under the profile: %s", r.body)
		}
	}
}

// TestFAPIDPoPClockSkew: under the profile a DPoP proof whose iat is 9
// seconds ahead is accepted (FAPI 2.0 Security Profile §5.3.2.1: up to 10
// seconds), while Ward's default leeway (5 s) refuses it.
func TestFAPIDPoPClockSkew(t *testing.T) {
	for _, profile := range []fapi.Profile{fapi.Security, fapi.None} {
		h := newHarness(t, withProfile(profile))
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ahead, err := dpop.NewSigner(k, dpop.WithClock(func() time.Time { return h.clk.Now().Add(9 * time.Second) }))
		if err != nil {
			t.Fatal(err)
		}
		r := h.fapiToken(url.Values{"grant_type": {"client_credentials"}}, ahead)
		if profile == fapi.Security {
			wantToken(t, r)
		} else {
			wantError(t, r, http.StatusBadRequest, oauth.InvalidDPoPProof)
		}
	}
}

// TestFAPIMetadata: under the profile the metadata advertises exactly
// what is enforced.
func TestFAPIMetadata(t *testing.T) {
	h := newHarness(t, withProfile(fapi.Security))
	md := h.s.Metadata()
	if !slices.Equal(md.TokenEndpointAuthMethodsSupported, []oauth.AuthMethod{oauth.AuthPrivateKeyJWT}) ||
		!slices.Equal(md.IntrospectionEndpointAuthMethodsSupported, md.TokenEndpointAuthMethodsSupported) ||
		!slices.Equal(md.RevocationEndpointAuthMethodsSupported, md.TokenEndpointAuthMethodsSupported) {
		t.Errorf("auth methods %v / %v / %v, want [private_key_jwt] (mTLS off)", md.TokenEndpointAuthMethodsSupported,
			md.IntrospectionEndpointAuthMethodsSupported, md.RevocationEndpointAuthMethodsSupported)
	}
	if !md.RequirePushedAuthorizationRequests {
		t.Error("require_pushed_authorization_requests false under the profile")
	}
	for name, algs := range map[string][]string{
		"token_endpoint_auth_signing_alg_values_supported": md.TokenEndpointAuthSigningAlgValuesSupported,
		"dpop_signing_alg_values_supported":                md.DPoPSigningAlgValuesSupported,
		"id_token_signing_alg_values_supported":            md.IDTokenSigningAlgValuesSupported,
		"userinfo_signing_alg_values_supported":            md.UserinfoSigningAlgValuesSupported,
		"authorization_signing_alg_values_supported":       md.AuthorizationSigningAlgValuesSupported,
		"introspection_signing_alg_values_supported":       md.IntrospectionSigningAlgValuesSupported,
	} {
		if len(algs) == 0 || slices.ContainsFunc(algs, func(a string) bool { return !slices.Contains(fapi.SigningAlgs, a) }) {
			t.Errorf("%s %v: want a non-empty subset of %v (§5.4.1)", name, algs, fapi.SigningAlgs)
		}
	}
	if !slices.Equal(md.ResponseTypesSupported, []string{"code"}) || !slices.Equal(md.ResponseModesSupported, []string{"query", "query.jwt", "jwt"}) ||
		!slices.Equal(md.CodeChallengeMethodsSupported, []string{"S256"}) || !md.AuthorizationResponseISSParameterSupported {
		t.Errorf("response types %v, modes %v, PKCE %v, iss %v", md.ResponseTypesSupported, md.ResponseModesSupported,
			md.CodeChallengeMethodsSupported, md.AuthorizationResponseISSParameterSupported)
	}
}

// statusRecorder records the status of every response to a POST.
type statusRecorder struct {
	mu    sync.Mutex
	rt    http.RoundTripper
	posts []int
}

func (s *statusRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.rt.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost {
		s.mu.Lock()
		s.posts = append(s.posts, resp.StatusCode)
		s.mu.Unlock()
	}
	return resp, err
}

// TestFAPIRedirects303: every redirect answering a POSTed form (login,
// consent) is a 303, never a 307 that would forward the credentials
// (FAPI 2.0 Security Profile §5.3.2.2, RFC 9700 §4.12).
func TestFAPIRedirects303(t *testing.T) {
	h := newHarness(t, withProfile(fapi.Security))
	v, _ := pkce.NewVerifier()
	p := h.jwtAuth(authParams("jwt", webRedirect, pkce.Challenge(v)), h.issuer)
	r := h.post(PathPAR, p, "DPoP", h.parProof(h.newSigner()))
	b := h.newBrowser()
	rec := &statusRecorder{rt: b.c.Transport}
	if rec.rt == nil {
		rec.rt = http.DefaultTransport
	}
	b.c.Transport = rec
	q := h.authorize(b, url.Values{"client_id": {"jwt"}, "request_uri": {r.str("request_uri")}})
	if q.Get("code") == "" || len(rec.posts) < 2 {
		t.Fatalf("flow: %v, POST answers %v", q, rec.posts)
	}
	for _, st := range rec.posts {
		if st != http.StatusSeeOther {
			t.Fatalf("a POSTed form was answered %d, want 303: %v", st, rec.posts)
		}
	}
}

// TestFAPIMTLSClient: under the profile a tls_client_auth client gets a
// certificate-bound token over mTLS (RFC 8705 §3); the same server refuses
// its public client (invalid_client) and its bearer client
// (unauthorized_client) with the exact codes.
func TestFAPIMTLSClient(t *testing.T) {
	e := newMTLSEnv(t)
	e.h.cfg.AuthorizationServer.Profile = fapi.Security // read per request
	good := e.ca.Issue(t, mtlstest.Options{CommonName: "orders", URIs: []string{workloadID}, ClientOnly: true})
	wantBound(t, e.post(e.url, good, PathToken, cc("tlsc")), good)
	wantBound(t, e.post(e.url, e.self, PathToken, cc("selfc")), e.self)
	svc := e.ca.Issue(t, mtlstest.Options{DNSNames: []string{"svc.example"}})
	wantError(t, e.post(e.url, svc, PathToken, cc("tlsbearer")), http.StatusBadRequest, oauth.UnauthorizedClient)
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"pubm"}}
	wantError(t, e.post(e.url, good, PathToken, f), http.StatusUnauthorized, oauth.InvalidClient)
}

// TestFAPIMessageSigningNotSupported: a stored client under
// fapi2-message-signing is refused with unauthorized_client while this
// build lacks the profile's features (fapi.Requirements), rather than
// served as if it were compliant.
func TestFAPIMessageSigningNotSupported(t *testing.T) {
	h := newHarness(t)
	jc, err := h.st.GetClient(context.Background(), "jwt")
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Client{ID: "msjwt", AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jc.JWKS, RedirectURIs: []string{webRedirect},
		GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, Profile: string(fapi.MessageSigning)}
	if _, err := CreateClient(context.Background(), h.st, c, h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	now := h.clk.Now()
	a := h.assertion(h.jwtKey, jose.ES256, "k1", jwt.Claims{Issuer: "msjwt", Subject: "msjwt", Audience: jwt.Audience{h.issuer},
		Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: randomToken(8)})
	r := h.post(PathToken, url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType}, "client_assertion": {a}},
		"DPoP", h.proof(h.newSigner()))
	wantError(t, r, http.StatusBadRequest, oauth.UnauthorizedClient)
	if !strings.Contains(r.str("error_description"), "not supported yet") {
		t.Errorf("description %q does not say the profile is not supported yet", r.str("error_description"))
	}
}

// TestFAPIProfileLocks: what Ward enforces for every client, asserted
// under the profile with its exact error code, so that a change to the
// defaults cannot loosen the profile unseen: response_type code only and
// response_mode query only (§5.3.2.2), PKCE with S256 (§5.3.2.2),
// redirect_uri required at PAR (§5.3.2.2), PAR authenticated (§5.3.2.2),
// request_uri expires_in below 600 s (§5.3.2.2), single-use codes living
// 60 s at most (§5.3.2.1, §5.3.2.2), no password grant (§5.3.2.1).
func TestFAPIProfileLocks(t *testing.T) {
	h := newHarness(t, withProfile(fapi.Security))
	v, _ := pkce.NewVerifier()
	push := func(edit func(url.Values)) *response {
		p := authParams("jwt", webRedirect, pkce.Challenge(v))
		edit(p)
		return h.post(PathPAR, h.jwtAuth(p, h.issuer))
	}
	for _, tc := range []struct {
		name string
		edit func(url.Values)
		code string
	}{
		{"response_type token", func(p url.Values) { p.Set("response_type", "token") }, oauth.UnsupportedResponseType},
		{"response_type code id_token", func(p url.Values) { p.Set("response_type", "code id_token") }, oauth.UnsupportedResponseType},
		{"response_mode fragment", func(p url.Values) { p.Set("response_mode", "fragment") }, oauth.InvalidRequest},
		{"response_mode form_post", func(p url.Values) { p.Set("response_mode", "form_post") }, oauth.InvalidRequest},
		{"no PKCE", func(p url.Values) { p.Del("code_challenge"); p.Del("code_challenge_method") }, oauth.InvalidRequest},
		{"PKCE plain", func(p url.Values) { p.Set("code_challenge_method", "plain") }, oauth.InvalidRequest},
		{"no redirect_uri", func(p url.Values) { p.Del("redirect_uri") }, oauth.InvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) { wantError(t, push(tc.edit), http.StatusBadRequest, tc.code) })
	}
	t.Run("PAR without client authentication", func(t *testing.T) {
		p := authParams("jwt", webRedirect, pkce.Challenge(v))
		wantError(t, h.post(PathPAR, p), http.StatusUnauthorized, oauth.InvalidClient)
	})
	t.Run("request_uri lifetime", func(t *testing.T) {
		r := push(func(url.Values) {})
		if n, _ := r.json["expires_in"].(float64); r.status != http.StatusCreated || n <= 0 || n >= 600 {
			t.Fatalf("PAR %d %s: want expires_in below 600", r.status, r.body)
		}
	})
	t.Run("password grant", func(t *testing.T) {
		r := h.fapiToken(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}}, h.newSigner())
		wantError(t, r, http.StatusBadRequest, oauth.UnsupportedGrantType)
	})
	s := h.newSigner()
	exchange := func(code, v string) *response {
		return h.fapiToken(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {v}, "redirect_uri": {webRedirect}}, s)
	}
	t.Run("code reuse", func(t *testing.T) {
		code, v := h.fapiCode(s)
		wantToken(t, exchange(code, v))
		wantError(t, exchange(code, v), http.StatusBadRequest, oauth.InvalidGrant)
	})
	t.Run("code after 60 s", func(t *testing.T) {
		code, v := h.fapiCode(s)
		h.clk.Advance(61 * time.Second)
		wantError(t, exchange(code, v), http.StatusBadRequest, oauth.InvalidGrant)
	})
}

// TestFAPIAssertionClockSkew: under the profile a client assertion whose
// iat and nbf are 9 seconds ahead is accepted (FAPI 2.0 Security Profile
// §5.3.2.1: up to 10 seconds).
func TestFAPIAssertionClockSkew(t *testing.T) {
	h := newHarness(t, withProfile(fapi.Security))
	ahead := h.clk.Now().Add(9 * time.Second)
	f := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType}}
	f.Set("client_assertion", h.signedAssertion(map[string]any{
		"iss": "jwt", "sub": "jwt", "aud": h.issuer, "jti": randomToken(8),
		"iat": ahead.Unix(), "nbf": ahead.Unix(), "exp": ahead.Add(time.Minute).Unix(),
	}))
	wantToken(t, h.post(PathToken, f, "DPoP", h.proof(h.newSigner())))
}

// TestFAPIAssertionAlg: a client under its own profile authenticates with
// PS256, never RS256 (FAPI 2.0 Security Profile §5.4.1), which the same
// server still accepts from a client outside the profile.
func TestFAPIAssertionAlg(t *testing.T) {
	h := newHarness(t, withoutAuthBackoff())
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: "r1", Use: "sig"}}})
	for _, p := range []fapi.Profile{fapi.Security, fapi.None} {
		id := "rsa" + string(p)
		c := &store.Client{ID: id, AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: set, RedirectURIs: []string{webRedirect},
			GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, Audiences: []string{testAPI}, Profile: string(p)}
		if _, err := CreateClient(context.Background(), h.st, c, h.clk.Now()); err != nil {
			t.Fatal(err)
		}
		for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.PS256} {
			now := h.clk.Now()
			a := h.assertion(k, alg, "r1", jwt.Claims{Issuer: id, Subject: id, Audience: jwt.Audience{h.issuer},
				Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: randomToken(8)})
			r := h.post(PathToken, url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType}, "client_assertion": {a}},
				"DPoP", h.proof(h.newSigner()))
			if p == fapi.Security && alg == jose.RS256 {
				wantError(t, r, http.StatusUnauthorized, oauth.InvalidClient)
			} else {
				wantToken(t, r)
			}
		}
	}
}

// TestFAPIMTLSCodeFlow: under the profile a tls_client_auth client
// (sender_constraint dpop_or_mtls) pushes its request and redeems its code
// over mTLS, without DPoP, and gets a certificate-bound access token
// (RFC 8705 §3); its refresh token does not rotate.
func TestFAPIMTLSCodeFlow(t *testing.T) {
	e := newMTLSEnv(t)
	h := e.h
	h.cfg.AuthorizationServer.Profile = fapi.Security // read per request
	c := &store.Client{ID: "tlscode", AuthMethod: oauth.AuthTLSClient, SenderConstraint: store.ConstraintDPoPOrMTLS,
		JWKS: TLSClientAuthJWKS(TLSClientAuth{SANURI: workloadID}), RedirectURIs: []string{webRedirect}, Scopes: []string{"read"},
		Audiences: []string{testAPI}}
	if _, err := CreateClient(context.Background(), h.st, c, h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	cert := e.ca.Issue(t, mtlstest.Options{CommonName: "tpp", URIs: []string{workloadID}, ClientOnly: true})
	v, _ := pkce.NewVerifier()
	p := authParams("tlscode", webRedirect, pkce.Challenge(v))
	p.Set("scope", "read")
	r := e.post(e.url, cert, PathPAR, p)
	if r.status != http.StatusCreated {
		t.Fatalf("PAR over mTLS: %d %s", r.status, r.body)
	}
	q := h.authorize(h.newBrowser(), url.Values{"client_id": {"tlscode"}, "request_uri": {r.str("request_uri")}})
	if q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
	tok := e.post(e.url, cert, PathToken, url.Values{"grant_type": {"authorization_code"}, "client_id": {"tlscode"},
		"code": {q.Get("code")}, "code_verifier": {v}, "redirect_uri": {webRedirect}})
	wantBound(t, tok, cert)
	rt := tok.str("refresh_token")
	again := e.post(e.url, cert, PathToken, url.Values{"grant_type": {"refresh_token"}, "client_id": {"tlscode"}, "refresh_token": {rt}})
	wantBound(t, again, cert)
	if again.str("refresh_token") != "" {
		t.Fatalf("the refresh token rotated under the profile: %s", again.body)
	}
}
