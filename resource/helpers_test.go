package resource_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/jws/jwstest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/resource"
)

var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

const (
	apiURL   = "https://api.example/orders"
	audience = "https://api.example"
)

// issuer is a fake authorization server: RFC 8414 metadata and a JWKS, and
// a signing key for RFC 9068 access tokens.
type issuer struct {
	srv       *httptest.Server
	url       string
	key       *ecdsa.PrivateKey
	kid       string
	jwksHits  atomic.Int64
	extraKeys []jose.JSONWebKey
	// editJWKS, when set, rewrites the JWKS document's text.
	editJWKS func(string) string
}

func newIssuer(t testing.TB) *issuer {
	t.Helper()
	is := &issuer{kid: "k1"}
	is.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.url, "jwks_uri": is.url + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		is.jwksHits.Add(1)
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: is.kid, Algorithm: "ES256", Use: "sig"}}, is.extraKeys...)}
		w.Header().Set("Content-Type", "application/json")
		if is.editJWKS != nil {
			b, _ := json.Marshal(set)
			_, _ = w.Write([]byte(is.editJWKS(string(b))))
			return
		}
		_ = json.NewEncoder(w).Encode(set)
	})
	is.srv = httptest.NewServer(mux)
	is.url = is.srv.URL
	t.Cleanup(is.srv.Close)
	return is
}

// claims returns valid RFC 9068 claims bound to jkt ("" for bearer).
func (is *issuer) claims(jkt string) map[string]any {
	c := map[string]any{
		"iss": is.url, "sub": "alice", "client_id": "app", "aud": audience,
		"iat": testNow.Unix() - 10, "exp": testNow.Add(5 * time.Minute).Unix(),
		"jti": "tok-1", "scope": "orders:read profile",
	}
	if jkt != "" {
		c["cnf"] = map[string]any{"jkt": jkt}
	}
	return c
}

func (is *issuer) header() map[string]any {
	return map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": is.kid}
}

// token signs claims with the issuer's key.
func (is *issuer) token(t testing.TB, claims map[string]any) string {
	return craft(t, is.header(), claims, "ES256", is.key)
}

// craft and craftRaw forge a JWS no honest party would sign (see
// internal/jws/jwstest).
var craft, craftRaw = jwstest.Craft, jwstest.CraftRaw

// malleate re-encodes an ES256 JWS signature (r, s) as (r, n−s): other
// bytes that still verify.
func malleate(t testing.TB, jws string) string {
	t.Helper()
	i := strings.LastIndexByte(jws, '.')
	sig, err := base64.RawURLEncoding.DecodeString(jws[i+1:])
	if err != nil || len(sig) != 64 {
		t.Fatal("malleate: not an ES256 signature")
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	s.FillBytes(sig[32:])
	out := jws[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
	if out == jws {
		t.Fatal("malleate: same bytes")
	}
	return out
}

func jwkMap(t testing.TB, k any) map[string]any {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// client is a DPoP client: its key and a signer at a given clock.
type client struct {
	key    *ecdsa.PrivateKey
	signer *dpop.Signer
}

func newClient(t testing.TB, at time.Time) *client {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := dpop.NewSigner(k, dpop.WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	return &client{key: k, signer: s}
}

func (c *client) proof(t testing.TB, method, u, tok string, opts ...dpop.ProofOption) string {
	t.Helper()
	p, err := c.signer.Proof(method, u, append([]dpop.ProofOption{dpop.WithAccessToken(tok)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type fixture struct {
	is  *issuer
	rs  *resource.Resource
	ver *dpop.Verifier
	cl  *client
	// rejected records OnReject calls: reason → jkt.
	rejected []string
}

func newFixture(t testing.TB, mod func(*resource.Config, *[]dpop.VerifierOption)) *fixture {
	t.Helper()
	f := &fixture{is: newIssuer(t), cl: newClient(t, testNow)}
	clock := func() time.Time { return testNow }
	dopts := []dpop.VerifierOption{dpop.WithClock(clock), dpop.WithAllowedAlgorithms(dpop.ES256, dpop.EdDSA)}
	cfg := resource.Config{
		Issuer:           f.is.url,
		Audience:         audience,
		Clock:            clock,
		ResourceMetadata: resource.ResourceMetadataURL(audience),
		Keys: resource.NewRemoteKeys(f.is.url, resource.RemoteKeysOptions{
			Client: f.is.srv.Client(), Clock: clock,
		}),
		OnReject: func(r *http.Request, e *oauth.Error, jkt string) {
			f.rejected = append(f.rejected, e.Reason)
		},
	}
	if mod != nil {
		mod(&cfg, &dopts)
	}
	v, err := dpop.NewVerifier(dopts...)
	if err != nil {
		t.Fatal(err)
	}
	f.ver = v
	cfg.DPoP = v
	f.rs, err = resource.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// do sends a request through the middleware requiring req, with the
// Authorization header auth and the DPoP proofs given.
func (f *fixture) do(req resource.Requirement, method, target, auth string, proofs ...string) *httptest.ResponseRecorder {
	h := f.rs.Middleware(req)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := resource.IdentityFrom(r.Context())
		if !ok {
			http.Error(w, "no identity", 500)
			return
		}
		_, _ = w.Write([]byte(id.Subject + " " + id.ClientID + " " + id.JKT))
	}))
	r := httptest.NewRequest(method, target, nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var _ = crypto.SHA256

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }
