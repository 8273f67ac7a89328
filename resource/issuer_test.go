package resource_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/resource"
)

// idp is a foreign identity provider signing RS256 tokens: OIDC
// discovery, RFC 8414 metadata and a JWKS, each counted.
type idp struct {
	srv                   *httptest.Server
	url                   string // issuer identifier (Auth0's ends with "/")
	key                   *rsa.PrivateKey
	jwksHits, oidcHits    atomic.Int64
	rfc8414Hits, allHits  atomic.Int64
	introspection         http.HandlerFunc
	metadataIssuerPostfix string // makes the metadata name another issuer
}

func newIDP(t testing.TB, trailingSlash bool) *idp {
	t.Helper()
	p := &idp{}
	p.key, _ = rsa.GenerateKey(rand.Reader, 2048)
	mux := http.NewServeMux()
	meta := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.url + p.metadataIssuerPostfix, "jwks_uri": p.srv.URL + "/keys", "introspection_endpoint": p.srv.URL + "/introspect"})
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) { p.oidcHits.Add(1); meta(w) })
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) { p.rfc8414Hits.Add(1); meta(w) })
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		p.jwksHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "rsa1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /introspect", func(w http.ResponseWriter, r *http.Request) { p.introspection(w, r) })
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.allHits.Add(1); mux.ServeHTTP(w, r) }))
	p.url = p.srv.URL
	if trailingSlash {
		p.url += "/"
	}
	t.Cleanup(p.srv.Close)
	return p
}

// sign makes an RS256 JWS with header typ ("" for none).
func (p *idp) sign(t testing.TB, typ string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", "rsa1")
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// provider is one identity provider's documented token shapes: the
// header typ and claims of its default access token and of its ID token.
type provider struct {
	name            string
	atTyp, idTyp    string
	access, idToken func(iss string) map[string]any
	claims          resource.ClaimMapping
	wantSub         string
	wantClient      string
	wantScopes      string
}

var (
	iat = testNow.Unix() - 10
	exp = testNow.Add(5 * time.Minute).Unix()
)

// providers: the access and ID token formats each provider documents.
// Keycloak: header typ JWT, payload typ Bearer / ID, azp, scope string
// (Keycloak's server docs; keycloak-core's AccessToken and IDToken). Okta
// custom authorization server: no header typ, ver, cid, uid, scp array
// (developer.okta.com "Validate access tokens"; its ID token has aud =
// client id, amr, idp, auth_time and at_hash). Auth0's default "Auth0
// token profile": typ JWT, azp, scope string, aud array, no jti (Auth0
// docs "Access Token Profiles"). Entra v2.0 access token: typ JWT, azp,
// scp string, oid, tid, ver 2.0, uti (Microsoft identity platform
// "Access token claims reference"; its ID token carries nonce).
var providers = []provider{
	{
		name: "keycloak", atTyp: "JWT", idTyp: "JWT",
		access: func(iss string) map[string]any {
			return map[string]any{"exp": exp, "iat": iat, "jti": "4b7e0d1e", "iss": iss, "aud": []string{audience, "account"},
				"sub": "f3c1a2b4-user", "typ": "Bearer", "azp": "web-app", "session_state": "s1", "acr": "1",
				"realm_access": map[string]any{"roles": []string{"offline_access"}}, "scope": "openid orders:read email",
				"sid": "s1", "preferred_username": "alice"}
		},
		idToken: func(iss string) map[string]any {
			return map[string]any{"exp": exp, "iat": iat, "auth_time": iat, "jti": "5c8f", "iss": iss, "aud": audience,
				"sub": "f3c1a2b4-user", "typ": "ID", "azp": audience, "nonce": "n-0S6", "session_state": "s1", "at_hash": "x7Zc", "acr": "1", "sid": "s1"}
		},
		wantSub: "f3c1a2b4-user", wantClient: "web-app", wantScopes: "openid orders:read email",
	},
	{
		name: "okta", atTyp: "", idTyp: "",
		access: func(iss string) map[string]any {
			return map[string]any{"ver": 1, "jti": "AT.MNAoEQ", "iss": iss, "aud": audience, "sub": "alice@example.com",
				"iat": iat, "exp": exp, "cid": "0oa1okta", "uid": "00u1", "scp": []string{"openid", "orders:read"}, "auth_time": iat}
		},
		idToken: func(iss string) map[string]any {
			return map[string]any{"sub": "00u1", "name": "Alice", "ver": 1, "iss": iss, "aud": audience, "iat": iat, "exp": exp,
				"jti": "ID.radCQ", "amr": []string{"pwd"}, "idp": "00o1", "preferred_username": "alice@example.com", "auth_time": iat}
		},
		wantSub: "alice@example.com", wantClient: "0oa1okta", wantScopes: "openid orders:read",
	},
	{
		name: "auth0", atTyp: "JWT", idTyp: "JWT",
		access: func(iss string) map[string]any {
			return map[string]any{"iss": iss, "sub": "auth0|123456", "aud": []string{audience, iss + "userinfo"},
				"azp": "my_client_id", "exp": exp, "iat": iat, "scope": "openid profile orders:read", "gty": "password"}
		},
		idToken: func(iss string) map[string]any {
			return map[string]any{"iss": iss, "sub": "auth0|123456", "aud": audience, "exp": exp, "iat": iat,
				"name": "Alice", "sid": "s1", "nonce": "n-1", "auth_time": iat}
		},
		wantSub: "auth0|123456", wantClient: "my_client_id", wantScopes: "openid profile orders:read",
	},
	{
		name: "entra", atTyp: "JWT", idTyp: "JWT",
		access: func(iss string) map[string]any {
			return map[string]any{"aud": audience, "iss": iss, "iat": iat, "nbf": iat, "exp": exp, "aio": "AXQAi", "azp": "6e74172b-app",
				"azpacr": "1", "name": "Alice", "oid": "690222be-oid", "preferred_username": "alice@contoso.com", "rh": "I",
				"scp": "orders.read profile", "sub": "HKZpfaHyWadeOouYlitjrI-pairwise", "tid": "72f988bf", "uti": "fqiBqX", "ver": "2.0"}
		},
		idToken: func(iss string) map[string]any {
			return map[string]any{"aud": audience, "iss": iss, "iat": iat, "nbf": iat, "exp": exp, "aio": "AXQAi", "name": "Alice",
				"nonce": "123523", "oid": "690222be-oid", "preferred_username": "alice@contoso.com", "rh": "I",
				"sub": "HKZpfaHyWadeOouYlitjrI-pairwise", "tid": "72f988bf", "uti": "fqiBqX", "ver": "2.0"}
		},
		claims:  resource.ClaimMapping{Subject: "oid"},
		wantSub: "690222be-oid", wantClient: "6e74172b-app", wantScopes: "orders.read profile",
	},
}

// foreignFixture is a Resource trusting the given issuers, at testNow.
func foreignFixture(t testing.TB, issuers []resource.Issuer, dopts ...dpop.VerifierOption) (*resource.Resource, *[]string) {
	t.Helper()
	clock := func() time.Time { return testNow }
	v, err := dpop.NewVerifier(append([]dpop.VerifierOption{dpop.WithClock(clock), dpop.WithAllowedAlgorithms(dpop.ES256)}, dopts...)...)
	if err != nil {
		t.Fatal(err)
	}
	var rejected []string
	rs, err := resource.New(resource.Config{Issuers: issuers, Audience: audience, DPoP: v, Clock: clock,
		OnReject: func(r *http.Request, e *oauth.Error, jkt string) { rejected = append(rejected, e.Reason) }})
	if err != nil {
		t.Fatal(err)
	}
	return rs, &rejected
}

func (p *idp) issuer(name string, profile resource.Profile, m resource.ClaimMapping, d resource.Discovery) resource.Issuer {
	return resource.Issuer{Name: name, Issuer: p.url, Profile: profile, Claims: m, Algorithms: []string{"RS256"},
		Keys: resource.NewRemoteKeys(p.url, resource.RemoteKeysOptions{Client: p.srv.Client(), Clock: func() time.Time { return testNow }, Discovery: d})}
}

func call(rs *resource.Resource, req resource.Requirement, auth string, proofs ...string) (*resource.Identity, *oauth.Error) {
	r := httptest.NewRequest("GET", apiURL, nil)
	r.Header.Set("Authorization", auth)
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	id, err := rs.Authenticate(r, req)
	if err != nil {
		return nil, oauth.As(err)
	}
	return id, nil
}

// TestProviderTokens: each provider's default access token is accepted
// only under legacy-jwt, with its subject, client and scopes mapped; its
// ID token is refused under every profile.
func TestProviderTokens(t *testing.T) {
	bearer := resource.Requirement{AllowBearer: true}
	for i, name := range []string{"keycloak", "okta", "auth0", "entra"} {
		pv := providers[i]
		if pv.name != name {
			t.Fatalf("providers[%d] is %s", i, pv.name)
		}
		t.Run(name, func(t *testing.T) {
			p := newIDP(t, pv.name == "auth0")
			at := p.sign(t, pv.atTyp, pv.access(p.url))
			idt := p.sign(t, pv.idTyp, pv.idToken(p.url))

			strict, _ := foreignFixture(t, []resource.Issuer{p.issuer(pv.name, "", pv.claims, resource.DiscoveryOIDC)})
			if _, e := call(strict, bearer, "Bearer "+at); e == nil || e.Reason != resource.ReasonBadTokenType {
				t.Errorf("rfc9068 accepted a %s access token: %v", pv.name, e)
			}
			if _, e := call(strict, bearer, "Bearer "+idt); e == nil {
				t.Errorf("rfc9068 accepted a %s ID token", pv.name)
			}

			legacy, _ := foreignFixture(t, []resource.Issuer{p.issuer(pv.name, resource.ProfileLegacyJWT, pv.claims, resource.DiscoveryOIDC)})
			id, e := call(legacy, bearer, "Bearer "+at)
			if e != nil {
				t.Fatalf("legacy-jwt refused a %s access token: %v (%v)", pv.name, e, e.Err)
			}
			if id.Subject != pv.wantSub || id.ClientID != pv.wantClient || strings.Join(id.Scopes, " ") != pv.wantScopes || id.Issuer != p.url {
				t.Errorf("identity %+v", id)
			}
			if _, e := call(legacy, bearer, "Bearer "+idt); e == nil || e.Reason != resource.ReasonIDToken {
				t.Errorf("legacy-jwt: %s ID token: %v, want %s", pv.name, e, resource.ReasonIDToken)
			}
			// The audience is still required under legacy-jwt.
			c := pv.access(p.url)
			c["aud"] = "https://other.example"
			if _, e := call(legacy, bearer, "Bearer "+p.sign(t, pv.atTyp, c)); e == nil || e.Reason != resource.ReasonWrongAudience {
				t.Errorf("legacy-jwt: wrong aud: %v", e)
			}
			delete(c, "exp")
			c["aud"] = audience
			if _, e := call(legacy, bearer, "Bearer "+p.sign(t, pv.atTyp, c)); e == nil || e.Reason != resource.ReasonMissingClaim {
				t.Errorf("legacy-jwt: no exp: %v", e)
			}
		})
	}
}

// TestLegacyProfileRefusals: what legacy-jwt still refuses: another
// explicit typ, a Keycloak refresh token's typ claim, Cognito's ID token,
// an ID token shaped by auth_time without any scope, and HMAC or none.
func TestLegacyProfileRefusals(t *testing.T) {
	p := newIDP(t, false)
	rs, _ := foreignFixture(t, []resource.Issuer{p.issuer("p", resource.ProfileLegacyJWT, resource.ClaimMapping{}, resource.DiscoveryOIDC)})
	base := func() map[string]any {
		return map[string]any{"iss": p.url, "sub": "u", "aud": audience, "exp": exp, "iat": iat, "azp": "c", "scope": "a"}
	}
	for _, tt := range []struct {
		name, typ string
		mod       func(map[string]any)
		want      string
	}{
		{"logout_token_typ", "logout+jwt", func(map[string]any) {}, resource.ReasonBadTokenType},
		{"id_token_typ", "id_token+jwt", func(map[string]any) {}, resource.ReasonBadTokenType},
		{"keycloak_refresh_typ_claim", "JWT", func(c map[string]any) { c["typ"] = "Refresh" }, resource.ReasonIDToken},
		{"cognito_id_token", "", func(c map[string]any) { c["token_use"] = "id" }, resource.ReasonIDToken},
		{"auth_time_without_scope", "JWT", func(c map[string]any) { delete(c, "scope"); c["auth_time"] = iat }, resource.ReasonIDToken},
		{"c_hash", "JWT", func(c map[string]any) { c["c_hash"] = "x" }, resource.ReasonIDToken},
		{"no_subject", "JWT", func(c map[string]any) { delete(c, "sub") }, resource.ReasonMissingClaim},
		{"scope_array_with_space", "JWT", func(c map[string]any) { c["scope"] = []string{"a b"} }, resource.ReasonBadClaim},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.mod(c)
			if _, e := call(rs, resource.Requirement{AllowBearer: true}, "Bearer "+p.sign(t, tt.typ, c)); e == nil || e.Reason != tt.want {
				t.Errorf("got %v, want %s", e, tt.want)
			}
		})
	}
	hs := craft(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": "rsa1"}, base(), "HS256", []byte("secret"))
	if _, e := call(rs, resource.Requirement{AllowBearer: true}, "Bearer "+hs); e == nil || e.Reason != resource.ReasonBadTokenAlg {
		t.Errorf("HS256 under legacy-jwt: %v", e)
	}
}

// TestMultipleIssuers: a token's iss picks its issuer; a token of A on a
// route that accepts only B is refused, and a token whose iss is not
// configured is refused, both before any key fetch.
func TestMultipleIssuers(t *testing.T) {
	a, b := newIDP(t, false), newIDP(t, false)
	rs, _ := foreignFixture(t, []resource.Issuer{
		a.issuer("a", resource.ProfileLegacyJWT, resource.ClaimMapping{}, resource.DiscoveryOIDC),
		b.issuer("b", resource.ProfileLegacyJWT, resource.ClaimMapping{}, resource.DiscoveryRFC8414),
	})
	claims := func(iss string) map[string]any {
		return map[string]any{"iss": iss, "sub": "u", "aud": audience, "exp": exp, "iat": iat, "azp": "c", "scope": "s"}
	}
	onlyB := resource.Requirement{AllowBearer: true, Issuers: []string{"b"}}
	tokA := a.sign(t, "JWT", claims(a.url))
	if _, e := call(rs, onlyB, "Bearer "+tokA); e == nil || e.Reason != resource.ReasonIssuerNotAccepted {
		t.Fatalf("A's token on B's route: %v", e)
	}
	stranger := newIDP(t, false)
	if _, e := call(rs, resource.Requirement{AllowBearer: true}, "Bearer "+stranger.sign(t, "JWT", claims(stranger.url))); e == nil || e.Reason != resource.ReasonWrongIssuer {
		t.Fatalf("unknown iss: %v", e)
	}
	// A's key signing a token that claims B's iss fails B's keys.
	if _, e := call(rs, resource.Requirement{AllowBearer: true}, "Bearer "+a.sign(t, "JWT", claims(b.url))); e == nil || e.Reason != resource.ReasonBadSignature {
		t.Fatalf("A's key, B's iss: %v", e)
	}
	if n := a.allHits.Load() + stranger.allHits.Load(); n != 0 {
		t.Fatalf("%d requests to A or the unknown issuer before any of their tokens was accepted", n)
	}
	// B by issuer identifier, A by name, on a route accepting both.
	both := resource.Requirement{AllowBearer: true, Issuers: []string{"a", b.url}}
	if id, e := call(rs, both, "Bearer "+tokA); e != nil || id.Issuer != a.url {
		t.Fatalf("A on a route accepting A: %v", e)
	}
	if a.oidcHits.Load() != 1 || a.rfc8414Hits.Load() != 0 || b.oidcHits.Load() != 0 || b.rfc8414Hits.Load() != 1 {
		t.Errorf("discovery: A oidc %d rfc8414 %d, B oidc %d rfc8414 %d", a.oidcHits.Load(), a.rfc8414Hits.Load(), b.oidcHits.Load(), b.rfc8414Hits.Load())
	}
	// Cached now, still refused on B's route.
	if _, e := call(rs, onlyB, "Bearer "+tokA); e == nil || e.Reason != resource.ReasonIssuerNotAccepted {
		t.Fatalf("cached A token on B's route: %v", e)
	}
}

// TestKeySources: OIDC discovery and a fixed jwks_uri (never
// discovered); discovered metadata naming another issuer is refused and
// its cause kept for the readiness page and logged once per 30 s.
func TestKeySources(t *testing.T) {
	bearer := resource.Requirement{AllowBearer: true}
	claims := func(iss string) map[string]any {
		return map[string]any{"iss": iss, "sub": "u", "aud": audience, "exp": exp, "iat": iat, "azp": "c"}
	}
	t.Run("fixed_jwks_uri", func(t *testing.T) {
		p := newIDP(t, false)
		is := resource.Issuer{Issuer: p.url, Profile: resource.ProfileLegacyJWT, Algorithms: []string{"RS256"},
			Keys: resource.NewRemoteKeys(p.url, resource.RemoteKeysOptions{Client: p.srv.Client(), JWKSURI: p.srv.URL + "/keys"})}
		rs, _ := foreignFixture(t, []resource.Issuer{is})
		if _, e := call(rs, bearer, "Bearer "+p.sign(t, "", claims(p.url))); e != nil {
			t.Fatal(e)
		}
		if p.jwksHits.Load() != 1 || p.oidcHits.Load()+p.rfc8414Hits.Load() != 0 {
			t.Errorf("jwks %d, discovery %d", p.jwksHits.Load(), p.oidcHits.Load()+p.rfc8414Hits.Load())
		}
	})
	t.Run("oidc_discovery", func(t *testing.T) {
		p := newIDP(t, true)
		rs, _ := foreignFixture(t, []resource.Issuer{p.issuer("p", resource.ProfileLegacyJWT, resource.ClaimMapping{}, resource.DiscoveryOIDC)})
		if _, e := call(rs, bearer, "Bearer "+p.sign(t, "JWT", claims(p.url))); e != nil {
			t.Fatal(e)
		}
		if p.oidcHits.Load() != 1 || p.jwksHits.Load() != 1 {
			t.Errorf("oidc %d jwks %d", p.oidcHits.Load(), p.jwksHits.Load())
		}
		if got, _ := resource.OIDCConfigurationURL("https://x.auth0.com/"); got != "https://x.auth0.com/.well-known/openid-configuration" {
			t.Errorf("OIDCConfigurationURL = %s", got)
		}
	})
	t.Run("metadata_names_another_issuer", func(t *testing.T) {
		p := newIDP(t, false)
		p.metadataIssuerPostfix = "/evil"
		var logs bytes.Buffer
		clock := testNow
		v, _ := dpop.NewVerifier(dpop.WithClock(func() time.Time { return clock }))
		rs, err := resource.New(resource.Config{Audience: audience, DPoP: v, Clock: func() time.Time { return clock },
			Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			Issuers: []resource.Issuer{{Name: "p", Issuer: p.url, Profile: resource.ProfileLegacyJWT, Algorithms: []string{"RS256"},
				Keys: resource.NewRemoteKeys(p.url, resource.RemoteKeysOptions{Client: p.srv.Client(), Clock: func() time.Time { return clock }, MinRefresh: time.Nanosecond})}}})
		if err != nil {
			t.Fatal(err)
		}
		tok := p.sign(t, "JWT", claims(p.url))
		for range 3 {
			if _, e := call(rs, bearer, "Bearer "+tok); e == nil || e.Status != 503 || e.Reason != resource.ReasonKeysUnavailable {
				t.Fatalf("got %v, want 503 keys_unavailable", e)
			}
			clock = clock.Add(time.Second)
		}
		st := rs.IssuerStatus()[0]
		if st.Healthy() || !strings.Contains(st.LastError, "names issuer") || st.Name != "p" {
			t.Errorf("status %+v", st)
		}
		if n := strings.Count(logs.String(), "issuer unavailable"); n != 1 || !strings.Contains(logs.String(), "names issuer") {
			t.Errorf("logged %d times (want 1 within 30 s): %s", n, logs.String())
		}
		clock = clock.Add(30 * time.Second)
		_, _ = call(rs, bearer, "Bearer "+tok)
		if n := strings.Count(logs.String(), "issuer unavailable"); n != 2 {
			t.Errorf("logged %d times after 30 s, want 2", n)
		}
	})
}

// TestForeignIssuerDPoP: a DPoP-bound token of a foreign issuer under
// legacy-jwt goes through every RFC 9449 check, nonces included.
func TestForeignIssuerDPoP(t *testing.T) {
	p := newIDP(t, false)
	nonces, err := dpop.NewStatelessNonces(audience, time.Minute, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := foreignFixture(t, []resource.Issuer{p.issuer("p", resource.ProfileLegacyJWT, resource.ClaimMapping{}, resource.DiscoveryOIDC)}, dpop.WithNonces(nonces))
	cl := newClient(t, testNow)
	other := newClient(t, testNow)
	c := map[string]any{"iss": p.url, "sub": "u", "aud": audience, "exp": exp, "iat": iat, "azp": "c", "cnf": map[string]any{"jkt": cl.signer.Thumbprint()}}
	tok := p.sign(t, "JWT", c)
	req := resource.Requirement{}
	if _, e := call(rs, req, "Bearer "+tok); e == nil || e.Reason != resource.ReasonDPoPAsBearer {
		t.Fatalf("as Bearer: %v", e)
	}
	_, e := call(rs, req, "DPoP "+tok, cl.proof(t, "GET", apiURL, tok))
	if e == nil || e.Code != "use_dpop_nonce" || e.DPoPNonce == "" {
		t.Fatalf("without nonce: %v", e)
	}
	nonce := e.DPoPNonce
	if _, e := call(rs, req, "DPoP "+tok, other.proof(t, "GET", apiURL, tok, dpop.WithNonce(nonce))); e == nil || e.Reason != resource.ReasonKeyMismatch {
		t.Fatalf("another key: %v", e)
	}
	if _, e := call(rs, req, "DPoP "+tok, cl.proof(t, "POST", apiURL, tok, dpop.WithNonce(nonce))); e == nil || e.Reason != resource.ReasonHTMMismatch {
		t.Fatalf("wrong method: %v", e)
	}
	proof := cl.proof(t, "GET", apiURL, tok, dpop.WithNonce(nonce))
	if id, e := call(rs, req, "DPoP "+tok, proof); e != nil || id.JKT != cl.signer.Thumbprint() {
		t.Fatalf("valid proof: %v", e)
	}
	if _, e := call(rs, req, "DPoP "+tok, proof); e == nil || e.Reason != resource.ReasonReplayed {
		t.Fatalf("replay: %v", e)
	}
}

// TestIssuerConfigErrors: what New refuses in a registry.
func TestIssuerConfigErrors(t *testing.T) {
	v, _ := dpop.NewVerifier()
	for _, tt := range []struct {
		name string
		cfg  resource.Config
		want string
	}{
		{"both forms", resource.Config{Issuer: "https://a", Issuers: []resource.Issuer{{Issuer: "https://b"}}}, "not both"},
		{"duplicate", resource.Config{Issuers: []resource.Issuer{{Issuer: "https://a"}, {Issuer: "https://a"}}}, "twice"},
		// A route's issuers list names an issuer by Name or identifier:
		// one issuer's Name equal to another's identifier would make a
		// route meant for B accept A's tokens.
		{"name is another's identifier", resource.Config{Issuers: []resource.Issuer{{Name: "https://b", Issuer: "https://a"}, {Name: "bee", Issuer: "https://b"}}}, "twice"},
		{"identifier is another's name", resource.Config{Issuers: []resource.Issuer{{Name: "bee", Issuer: "https://b"}, {Name: "https://b", Issuer: "https://a"}}}, "twice"},
		{"hmac", resource.Config{Issuers: []resource.Issuer{{Issuer: "https://a", Algorithms: []string{"HS256"}}}}, "HS256"},
		{"profile", resource.Config{Issuers: []resource.Issuer{{Issuer: "https://a", Profile: "loose"}}}, "loose"},
		{"ttl", resource.Config{Issuer: "https://a", IntrospectionTTL: time.Minute}, "IntrospectionTTL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Audience, tt.cfg.DPoP = audience, v
			if _, err := resource.New(tt.cfg); !errors.Is(err, resource.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want %q", err, tt.want)
			}
		})
	}
}

// introspectionIDP answers RFC 7662 requests authenticated with the
// secret or a client assertion signed by key, and counts them.
func introspectionIDP(t *testing.T, key *ecdsa.PrivateKey, answer func(tok string) map[string]any) (*idp, *atomic.Int64) {
	p := newIDP(t, false)
	var calls atomic.Int64
	p.introspection = func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		id, secret, basic := r.BasicAuth()
		switch {
		case basic && id == "gw" && secret == "s3cret":
		case !basic && r.PostFormValue("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
			jws, err := jose.ParseSignedCompact(r.PostFormValue("client_assertion"), []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				w.WriteHeader(401)
				return
			}
			b, err := jws.Verify(&key.PublicKey)
			var c map[string]any
			_ = json.Unmarshal(b, &c)
			// RFC 7523 §3: iss = sub = client, aud = this endpoint, exp, jti.
			if err != nil || c["iss"] != "gw" || c["sub"] != "gw" || c["aud"] != p.srv.URL+"/introspect" || c["jti"] == nil || c["exp"] == nil || r.PostFormValue("client_id") != "gw" {
				w.WriteHeader(401)
				return
			}
		default:
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer(r.PostFormValue("token")))
	}
	return p, &calls
}

// TestForeignIntrospection: opaque tokens of a foreign issuer through
// RFC 7662, with the endpoint from its metadata and a client secret or
// private_key_jwt; answers cached at most 30 s in a bounded cache; 503
// when the endpoint is down; cnf.jkt and cnf.x5t#S256 bind the token.
func TestForeignIntrospection(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cl := newClient(t, testNow)
	var down atomic.Bool
	answer := func(tok string) map[string]any {
		a := map[string]any{"active": true, "sub": "bob", "client_id": "svc", "scope": "orders:read", "aud": audience, "exp": testNow.Add(time.Hour).Unix()}
		switch {
		case strings.HasPrefix(tok, "jkt-"):
			a["cnf"] = map[string]any{"jkt": cl.signer.Thumbprint()}
		case strings.HasPrefix(tok, "x5t-"):
			a["cnf"] = map[string]any{"x5t#S256": "bm90LXRoaXMtY2VydA"}
		case strings.HasPrefix(tok, "other-iss-"):
			a["iss"] = "https://other.example"
		}
		return a
	}
	for _, auth := range []string{"client_secret_basic", "private_key_jwt"} {
		t.Run(auth, func(t *testing.T) {
			p, calls := introspectionIDP(t, key, answer)
			inner := p.introspection
			p.introspection = func(w http.ResponseWriter, r *http.Request) {
				if down.Load() {
					w.WriteHeader(502)
					return
				}
				inner(w, r)
			}
			clock := testNow
			keys := resource.NewRemoteKeys(p.url, resource.RemoteKeysOptions{Client: p.srv.Client(), Discovery: resource.DiscoveryOIDC})
			ri := &resource.RemoteIntrospector{Metadata: keys, ClientID: "gw", Client: p.srv.Client()}
			if auth == "private_key_jwt" {
				ri.PrivateKey = key
			} else {
				ri.ClientSecret = "s3cret"
			}
			v, _ := dpop.NewVerifier(dpop.WithClock(func() time.Time { return clock }), dpop.WithAllowedAlgorithms(dpop.ES256))
			rs, err := resource.New(resource.Config{Audience: audience, DPoP: v, Clock: func() time.Time { return clock }, CacheSize: 2,
				Issuers: []resource.Issuer{{Name: "p", Issuer: p.url, Keys: keys, Introspector: ri}}})
			if err != nil {
				t.Fatal(err)
			}
			bearer := resource.Requirement{AllowBearer: true, Scopes: []string{"orders:read"}}
			id, e := call(rs, bearer, "Bearer plain-1")
			if e != nil || id.Subject != "bob" || id.ClientID != "svc" || id.Issuer != p.url {
				t.Fatalf("opaque token: %v %+v", e, id)
			}
			_, _ = call(rs, bearer, "Bearer plain-1")
			if calls.Load() != 1 {
				t.Fatalf("introspected %d times, want 1 (cached)", calls.Load())
			}
			// At most 30 s, although exp is an hour away.
			clock = clock.Add(31 * time.Second)
			_, _ = call(rs, bearer, "Bearer plain-1")
			if calls.Load() != 2 {
				t.Fatalf("after 31 s: %d calls, want 2", calls.Load())
			}
			// Bounded: two more tokens push plain-1 out of a 2-entry cache.
			_, _ = call(rs, bearer, "Bearer plain-2")
			_, _ = call(rs, bearer, "Bearer plain-3")
			_, _ = call(rs, bearer, "Bearer plain-1")
			if calls.Load() != 5 {
				t.Fatalf("cache of 2: %d calls, want 5", calls.Load())
			}
			// Bound by cnf, exactly as a JWT.
			if _, e := call(rs, bearer, "Bearer jkt-1"); e == nil || e.Reason != resource.ReasonDPoPAsBearer {
				t.Errorf("jkt-bound as Bearer: %v", e)
			}
			if id, e := call(rs, bearer, "DPoP jkt-1", cl.proof(t, "GET", apiURL, "jkt-1")); e != nil || id.JKT != cl.signer.Thumbprint() {
				t.Errorf("jkt-bound with its proof: %v", e)
			}
			if _, e := call(rs, bearer, "Bearer x5t-1"); e == nil || e.Reason != resource.ReasonCertMissing {
				t.Errorf("certificate-bound without a certificate: %v", e)
			}
			if _, e := call(rs, bearer, "Bearer other-iss-1"); e == nil || e.Reason != resource.ReasonWrongIssuer {
				t.Errorf("answer naming another issuer: %v", e)
			}
			// Down: 503, never accepted unchecked; the cause is kept.
			down.Store(true)
			defer down.Store(false)
			if _, e := call(rs, bearer, "Bearer plain-9"); e == nil || e.Status != 503 || e.Reason != resource.ReasonIntrospectionError {
				t.Errorf("endpoint down: %v", e)
			}
			if st := rs.IssuerStatus()[0]; st.Healthy() || !strings.Contains(st.LastError, "status 502") || strings.Contains(st.LastError, "s3cret") {
				t.Errorf("status %+v", st)
			}
		})
	}
}

// TestOpaqueTokenIssuerChoice: an opaque token goes to the one
// introspecting issuer the route accepts; a route accepting two refuses
// it without calling either.
func TestOpaqueTokenIssuerChoice(t *testing.T) {
	a, aCalls := introspectionIDP(t, nil, func(string) map[string]any {
		return map[string]any{"active": true, "sub": "from-a", "aud": audience, "exp": exp}
	})
	b, bCalls := introspectionIDP(t, nil, func(string) map[string]any {
		return map[string]any{"active": true, "sub": "from-b", "aud": audience, "exp": exp}
	})
	intro := func(p *idp) *resource.RemoteIntrospector {
		return &resource.RemoteIntrospector{Endpoint: p.srv.URL + "/introspect", ClientID: "gw", ClientSecret: "s3cret", Client: p.srv.Client()}
	}
	ia, ib := a.issuer("a", "", resource.ClaimMapping{}, ""), b.issuer("b", "", resource.ClaimMapping{}, "")
	ia.Introspector, ib.Introspector = intro(a), intro(b)
	rs, _ := foreignFixture(t, []resource.Issuer{ia, ib})
	if _, e := call(rs, resource.Requirement{AllowBearer: true}, "Bearer opaque"); e == nil || e.Reason != resource.ReasonAmbiguousIssuer {
		t.Fatalf("two introspecting issuers: %v", e)
	}
	if aCalls.Load()+bCalls.Load() != 0 {
		t.Fatal("the token was sent to an introspection endpoint")
	}
	if id, e := call(rs, resource.Requirement{AllowBearer: true, Issuers: []string{"b"}}, "Bearer opaque"); e != nil || id.Subject != "from-b" || aCalls.Load() != 0 {
		t.Fatalf("route accepting b: %v %+v, a called %d", e, id, aCalls.Load())
	}
}

// FuzzLegacyToken signs arbitrary payloads (and header types) with a
// legacy-jwt issuer's key: whatever is accepted has the route's
// audience, an exp, a subject and none of an ID token's marks.
func FuzzLegacyToken(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const iss = "https://idp.example"
	v, _ := dpop.NewVerifier(dpop.WithClock(func() time.Time { return testNow }))
	rs, err := resource.New(resource.Config{Audience: audience, DPoP: v, Clock: func() time.Time { return testNow }, CacheSize: -1,
		Issuers: []resource.Issuer{{Issuer: iss, Profile: resource.ProfileLegacyJWT,
			Keys: resource.StaticKeys{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "ES256"}}}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("JWT", `{"iss":"`+iss+`","sub":"u","aud":"`+audience+`","exp":1900000000,"azp":"c","scope":"a"}`)
	f.Add("", `{"iss":"`+iss+`","sub":"u","aud":["`+audience+`"],"exp":1900000000,"nonce":"n"}`)
	f.Add("at+jwt", `{"iss":"`+iss+`","sub":"u","aud":"`+audience+`","exp":1900000000,"typ":"ID"}`)
	f.Fuzz(func(t *testing.T, typ, payload string) {
		hdr := map[string]any{"alg": "ES256", "kid": "k"}
		if typ != "" {
			hdr["typ"] = typ
		}
		var claims map[string]any
		if json.Unmarshal([]byte(payload), &claims) != nil {
			return
		}
		tok := craft(t, hdr, claims, "ES256", key)
		id, e := call(rs, resource.Requirement{AllowBearer: true}, "Bearer "+tok)
		if e != nil {
			if e.Reason == "" {
				t.Fatalf("no reason: %v", e)
			}
			return
		}
		for _, k := range []string{"nonce", "at_hash", "c_hash", "s_hash"} {
			if _, ok := claims[k]; ok {
				t.Fatalf("accepted a JWT with %s", k)
			}
		}
		if id.Subject == "" || id.Expiry.IsZero() || !slices.Contains(id.Audience, audience) || id.Issuer != iss {
			t.Fatalf("accepted %+v", id)
		}
	})
}

// TestIssuerAudience: an issuer's own audience replaces the resource's
// default for its tokens; a route's audience still wins.
func TestIssuerAudience(t *testing.T) {
	p := newIDP(t, false)
	is := p.issuer("entra", resource.ProfileLegacyJWT, resource.ClaimMapping{}, resource.DiscoveryOIDC)
	is.Audience = "api://orders"
	rs, _ := foreignFixture(t, []resource.Issuer{is})
	tok := func(aud string) string {
		return "Bearer " + p.sign(t, "JWT", map[string]any{"iss": p.url, "sub": "u", "aud": aud, "exp": exp, "azp": "c"})
	}
	bearer := resource.Requirement{AllowBearer: true}
	if _, e := call(rs, bearer, tok("api://orders")); e != nil {
		t.Fatalf("issuer audience: %v", e)
	}
	if _, e := call(rs, bearer, tok(audience)); e == nil || e.Reason != resource.ReasonWrongAudience {
		t.Fatalf("resource default audience for an issuer with its own: %v", e)
	}
	route := resource.Requirement{AllowBearer: true, Audience: "https://payments.example"}
	if _, e := call(rs, route, tok("api://orders")); e == nil || e.Reason != resource.ReasonWrongAudience {
		t.Fatalf("route audience: %v", e)
	}
	if _, e := call(rs, route, tok("https://payments.example")); e != nil {
		t.Fatalf("route audience: %v", e)
	}
}
