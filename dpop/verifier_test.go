package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/internal/jws/jwstest"
)

var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

// craft and craftRaw forge a JWS no honest party would sign (see
// internal/jws/jwstest).
var craft, craftRaw = jwstest.Craft, jwstest.CraftRaw

func publicJWK(t testing.TB, pub crypto.PublicKey) map[string]any {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: pub})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func privateJWK(t testing.TB, priv crypto.PrivateKey) map[string]any {
	t.Helper()
	return publicJWK(t, priv)
}

const (
	testURL   = "https://api.example.com/v1/things"
	testToken = "access-token-value"
)

type fixture struct {
	key    *ecdsa.PrivateKey
	jkt    string
	hdr    map[string]any
	claims map[string]any
}

func newFixture(t testing.TB) *fixture {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jkt, _ := Thumbprint(&k.PublicKey)
	return &fixture{
		key: k,
		jkt: jkt,
		hdr: map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": publicJWK(t, &k.PublicKey)},
		claims: map[string]any{
			"jti": "jti-1", "htm": "POST", "htu": testURL, "iat": testNow.Unix(), "ath": ATH(testToken),
		},
	}
}

func (f *fixture) request(proof string) Request {
	return Request{Proofs: []string{proof}, Method: "POST", URL: testURL, AccessToken: testToken, JKT: f.jkt}
}

func TestVerifyFailures(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	weakRSA, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)

	type tc struct {
		name   string
		mutate func(f *fixture) Request // returns the request to verify
		want   *Error
	}
	sign := func(f *fixture) string { return craft(t, f.hdr, f.claims, "ES256", f.key) }
	cases := []tc{
		{"no header", func(f *fixture) Request { r := f.request(""); r.Proofs = nil; return r }, ErrMissing},
		{"two headers", func(f *fixture) Request { p := sign(f); r := f.request(p); r.Proofs = []string{p, p}; return r }, ErrMultiple},
		{"too large", func(f *fixture) Request { return f.request(strings.Repeat("a", 9000)) }, ErrTooLarge},
		{"two parts", func(f *fixture) Request { return f.request("abc.def") }, ErrMalformed},
		{"four parts", func(f *fixture) Request { return f.request(sign(f) + ".x") }, ErrMalformed},
		{"empty signature", func(f *fixture) Request { p := sign(f); return f.request(p[:strings.LastIndex(p, ".")+1]) }, ErrBadSignature},
		{"header not base64", func(f *fixture) Request { return f.request("!!!." + strings.SplitN(sign(f), ".", 2)[1]) }, ErrMalformed},
		{"header not JSON", func(f *fixture) Request {
			return f.request(base64.RawURLEncoding.EncodeToString([]byte("[1]")) + "." + strings.SplitN(sign(f), ".", 2)[1])
		}, ErrBadHeader},
		{"crit header", func(f *fixture) Request { f.hdr["crit"] = []string{"exp"}; return f.request(sign(f)) }, ErrBadHeader},
		{"typ missing", func(f *fixture) Request { delete(f.hdr, "typ"); return f.request(sign(f)) }, ErrBadType},
		{"typ jwt", func(f *fixture) Request { f.hdr["typ"] = "JWT"; return f.request(sign(f)) }, ErrBadType},
		{"typ at+jwt", func(f *fixture) Request { f.hdr["typ"] = "at+jwt"; return f.request(sign(f)) }, ErrBadType},
		{"typ not a string", func(f *fixture) Request { f.hdr["typ"] = 1; return f.request(sign(f)) }, ErrBadHeader},
		{"alg none", func(f *fixture) Request {
			f.hdr["alg"] = "none"
			return f.request(craft(t, f.hdr, f.claims, "none", nil))
		}, ErrBadAlgorithm},
		{"alg HS256 with public key as secret", func(f *fixture) Request {
			f.hdr["alg"] = "HS256"
			secret, _ := json.Marshal(f.hdr["jwk"])
			return f.request(craft(t, f.hdr, f.claims, "HS256", secret))
		}, ErrBadAlgorithm},
		{"alg missing", func(f *fixture) Request { delete(f.hdr, "alg"); return f.request(sign(f)) }, ErrBadAlgorithm},
		{"jwk missing", func(f *fixture) Request { delete(f.hdr, "jwk"); return f.request(sign(f)) }, ErrBadKey},
		{"jwk is a string", func(f *fixture) Request { f.hdr["jwk"] = "key"; return f.request(sign(f)) }, ErrBadHeader},
		{"jwk is null", func(f *fixture) Request { f.hdr["jwk"] = nil; return f.request(sign(f)) }, ErrBadKey},
		{"jwk x not a string", func(f *fixture) Request { f.hdr["jwk"].(map[string]any)["x"] = 5; return f.request(sign(f)) }, ErrBadHeader},
		{"jwk with d", func(f *fixture) Request { f.hdr["jwk"] = privateJWK(t, f.key); return f.request(sign(f)) }, ErrPrivateKey},
		{"oct jwk", func(f *fixture) Request {
			f.hdr["jwk"] = map[string]any{"kty": "oct", "k": "c2VjcmV0"}
			return f.request(sign(f))
		}, ErrPrivateKey},
		{"RSA jwk with p and q only", func(f *fixture) Request {
			m := publicJWK(t, &rsaKey.PublicKey)
			m["p"], m["q"] = "AQAB", "AQAB"
			f.hdr["jwk"], f.hdr["alg"] = m, "RS256"
			return f.request(craft(t, f.hdr, f.claims, "RS256", rsaKey))
		}, ErrPrivateKey},
		{"EC key with RS256", func(f *fixture) Request { f.hdr["alg"] = "RS256"; return f.request(sign(f)) }, ErrBadKey},
		{"P-384 key with ES256", func(f *fixture) Request {
			f.hdr["jwk"] = publicJWK(t, &p384.PublicKey)
			return f.request(sign(f))
		}, ErrBadKey},
		{"RSA 1024", func(f *fixture) Request {
			f.hdr["jwk"], f.hdr["alg"] = publicJWK(t, &weakRSA.PublicKey), "RS256"
			return f.request(craft(t, f.hdr, f.claims, "RS256", weakRSA))
		}, ErrBadKey},
		{"signed by another key", func(f *fixture) Request {
			other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			return f.request(craft(t, f.hdr, f.claims, "ES256", other))
		}, ErrBadSignature},
		{"payload changed after signing", func(f *fixture) Request {
			parts := strings.Split(sign(f), ".")
			f.claims["htm"] = "GET"
			cb, _ := json.Marshal(f.claims)
			parts[1] = base64.RawURLEncoding.EncodeToString(cb)
			return f.request(strings.Join(parts, "."))
		}, ErrBadSignature},
		{"jti missing", func(f *fixture) Request { delete(f.claims, "jti"); return f.request(sign(f)) }, ErrMissingClaim},
		{"htm missing", func(f *fixture) Request { delete(f.claims, "htm"); return f.request(sign(f)) }, ErrMissingClaim},
		{"htu missing", func(f *fixture) Request { delete(f.claims, "htu"); return f.request(sign(f)) }, ErrMissingClaim},
		{"iat missing", func(f *fixture) Request { delete(f.claims, "iat"); return f.request(sign(f)) }, ErrMissingClaim},
		{"jti empty", func(f *fixture) Request { f.claims["jti"] = ""; return f.request(sign(f)) }, ErrBadClaim},
		{"jti too long", func(f *fixture) Request { f.claims["jti"] = strings.Repeat("j", 300); return f.request(sign(f)) }, ErrBadClaim},
		{"jti a number", func(f *fixture) Request { f.claims["jti"] = 7; return f.request(sign(f)) }, ErrBadClaim},
		{"iat a string", func(f *fixture) Request { f.claims["iat"] = "1763812800"; return f.request(sign(f)) }, ErrBadClaim},
		{"iat negative", func(f *fixture) Request { f.claims["iat"] = -5; return f.request(sign(f)) }, ErrBadClaim},
		{"iat huge", func(f *fixture) Request { f.claims["iat"] = 1e300; return f.request(sign(f)) }, ErrBadClaim},
		{"htm GET for POST", func(f *fixture) Request { f.claims["htm"] = "GET"; return f.request(sign(f)) }, ErrHTMMismatch},
		{"htm lower case", func(f *fixture) Request { f.claims["htm"] = "post"; return f.request(sign(f)) }, ErrHTMMismatch},
		{"htu other path", func(f *fixture) Request {
			f.claims["htu"] = "https://api.example.com/v1/other"
			return f.request(sign(f))
		}, ErrHTUMismatch},
		{"htu other host", func(f *fixture) Request {
			f.claims["htu"] = "https://evil.example.com/v1/things"
			return f.request(sign(f))
		}, ErrHTUMismatch},
		{"htu http for https", func(f *fixture) Request {
			f.claims["htu"] = "http://api.example.com/v1/things"
			return f.request(sign(f))
		}, ErrHTUMismatch},
		{"htu other port", func(f *fixture) Request {
			f.claims["htu"] = "https://api.example.com:8443/v1/things"
			return f.request(sign(f))
		}, ErrHTUMismatch},
		{"htu relative", func(f *fixture) Request { f.claims["htu"] = "/v1/things"; return f.request(sign(f)) }, ErrHTUMismatch},
		{"ath missing", func(f *fixture) Request { delete(f.claims, "ath"); return f.request(sign(f)) }, ErrATHMissing},
		{"ath of another token", func(f *fixture) Request { f.claims["ath"] = ATH("other"); return f.request(sign(f)) }, ErrATHMismatch},
		{"key not the bound key", func(f *fixture) Request { r := f.request(sign(f)); r.JKT = rfcJKT; return r }, ErrKeyMismatch},
		{"iat too old", func(f *fixture) Request {
			f.claims["iat"] = testNow.Add(-61 * time.Second).Unix()
			return f.request(sign(f))
		}, ErrIATTooOld},
		{"iat in the future", func(f *fixture) Request {
			f.claims["iat"] = testNow.Add(11 * time.Second).Unix()
			return f.request(sign(f))
		}, ErrIATInFuture},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			v, err := NewVerifier(WithClock(fixedClock))
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(context.Background(), c.mutate(f))
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("got %v, want a *dpop.Error with reason %s", err, c.want.Reason)
			}
			if de.Reason != c.want.Reason {
				t.Fatalf("reason %s (%v), want %s", de.Reason, err, c.want.Reason)
			}
			if de.Code() != CodeInvalidProof {
				t.Errorf("code %s, want %s", de.Code(), CodeInvalidProof)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error echoes the access token: %v", err)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	cases := []struct {
		name   string
		mutate func(f *fixture) Request
	}{
		{"baseline", func(f *fixture) Request { return f.request(craft(t, f.hdr, f.claims, "ES256", f.key)) }},
		{"htu with default port, upper-case host, query", func(f *fixture) Request {
			f.claims["htu"] = "HTTPS://API.Example.COM:443/v1/%74hings?x=1#frag"
			return f.request(craft(t, f.hdr, f.claims, "ES256", f.key))
		}},
		{"iat at the edge of the window", func(f *fixture) Request {
			f.claims["iat"] = testNow.Add(-60 * time.Second).Unix()
			return f.request(craft(t, f.hdr, f.claims, "ES256", f.key))
		}},
		{"iat 10 s ahead", func(f *fixture) Request {
			f.claims["iat"] = testNow.Add(10 * time.Second).Unix()
			return f.request(craft(t, f.hdr, f.claims, "ES256", f.key))
		}},
		{"fractional iat", func(f *fixture) Request {
			f.claims["iat"] = float64(testNow.Unix()) + 0.5
			return f.request(craft(t, f.hdr, f.claims, "ES256", f.key))
		}},
		{"EdDSA", func(f *fixture) Request {
			f.hdr["alg"], f.hdr["jwk"] = "EdDSA", publicJWK(t, edKey.Public())
			r := f.request(craft(t, f.hdr, f.claims, "EdDSA", edKey))
			r.JKT, _ = Thumbprint(edKey.Public())
			return r
		}},
		{"RS256", func(f *fixture) Request {
			f.hdr["alg"], f.hdr["jwk"] = "RS256", publicJWK(t, &rsaKey.PublicKey)
			r := f.request(craft(t, f.hdr, f.claims, "RS256", rsaKey))
			r.JKT, _ = Thumbprint(&rsaKey.PublicKey)
			return r
		}},
		{"token request: no access token, no ath", func(f *fixture) Request {
			delete(f.claims, "ath")
			r := f.request(craft(t, f.hdr, f.claims, "ES256", f.key))
			r.AccessToken, r.JKT = "", ""
			return r
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			v, _ := NewVerifier(WithClock(fixedClock))
			if _, err := v.Verify(context.Background(), c.mutate(f)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAllowListRestricts(t *testing.T) {
	f := newFixture(t)
	v, _ := NewVerifier(WithClock(fixedClock), WithAllowedAlgorithms(EdDSA))
	_, err := v.Verify(context.Background(), f.request(craft(t, f.hdr, f.claims, "ES256", f.key)))
	if !errors.Is(err, ErrBadAlgorithm) {
		t.Fatalf("got %v, want %v", err, ErrBadAlgorithm)
	}
}

func TestNewVerifierRefusesSymmetricAndNone(t *testing.T) {
	for _, alg := range []string{"none", "HS256", "HS512", "", "es256"} {
		if _, err := NewVerifier(WithAllowedAlgorithms(alg)); !errors.Is(err, ErrConfig) {
			t.Errorf("%q: got %v, want ErrConfig", alg, err)
		}
	}
	if _, err := NewVerifier(WithAllowedAlgorithms()); !errors.Is(err, ErrConfig) {
		t.Errorf("empty list: got %v", err)
	}
}

func TestReplayAcrossKeysIsNotReplay(t *testing.T) {
	// The same jti under two different keys is two different proofs.
	v, _ := NewVerifier(WithClock(fixedClock))
	for i := 0; i < 2; i++ {
		f := newFixture(t)
		if _, err := v.Verify(context.Background(), f.request(craft(t, f.hdr, f.claims, "ES256", f.key))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReplayRefusedUntilWindowEnds(t *testing.T) {
	now := testNow
	clock := func() time.Time { return now }
	v, _ := NewVerifier(WithClock(clock))
	f := newFixture(t)
	p := craft(t, f.hdr, f.claims, "ES256", f.key)
	if _, err := v.Verify(context.Background(), f.request(p)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(59 * time.Second)
	if _, err := v.Verify(context.Background(), f.request(p)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("got %v, want replayed", err)
	}
	now = now.Add(5 * time.Second)
	if _, err := v.Verify(context.Background(), f.request(p)); !errors.Is(err, ErrIATTooOld) {
		t.Fatalf("after the window: got %v, want iat_too_old", err)
	}
}

func TestMalleatedFreshProofIsReplay(t *testing.T) {
	v, _ := NewVerifier(WithClock(fixedClock))
	f := newFixture(t)
	p := craft(t, f.hdr, f.claims, "ES256", f.key)
	if _, err := v.Verify(context.Background(), f.request(p)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), f.request(malleate(t, p))); !errors.Is(err, ErrReplayed) {
		t.Fatalf("got %v, want replayed", err)
	}
}

func TestNonces(t *testing.T) {
	now := testNow
	clock := func() time.Time { return now }
	key := make([]byte, 32)
	src, err := NewStatelessNonces("https://as.example.com", time.Minute, key)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(WithClock(clock), WithNonces(src))
	f := newFixture(t)

	_, err = v.Verify(context.Background(), f.request(craft(t, f.hdr, f.claims, "ES256", f.key)))
	var de *Error
	if !errors.As(err, &de) || de.Reason != ReasonNonceMissing || de.Code() != CodeUseNonce || de.Nonce == "" {
		t.Fatalf("no nonce: got %#v", err)
	}
	f.claims["nonce"] = de.Nonce
	f.claims["jti"] = "jti-2"
	if _, err := v.Verify(context.Background(), f.request(craft(t, f.hdr, f.claims, "ES256", f.key))); err != nil {
		t.Fatalf("with nonce: %v", err)
	}

	// A nonce from a server with another context (or key) is refused.
	other, _ := NewStatelessNonces("https://other.example.com", time.Minute, key)
	foreign, _ := other.Nonce(now)
	f.claims["nonce"], f.claims["jti"] = foreign, "jti-3"
	_, err = v.Verify(context.Background(), f.request(craft(t, f.hdr, f.claims, "ES256", f.key)))
	if !errors.As(err, &de) || de.Reason != ReasonNonceInvalid || de.Nonce == "" {
		t.Fatalf("foreign nonce: got %v", err)
	}

	// A nonce two steps old is stale; the iat is fresh.
	old, _ := src.Nonce(now)
	now = now.Add(2 * time.Minute)
	f.claims["nonce"], f.claims["jti"], f.claims["iat"] = old, "jti-4", now.Unix()
	_, err = v.Verify(context.Background(), f.request(craft(t, f.hdr, f.claims, "ES256", f.key)))
	if !errors.As(err, &de) || de.Reason != ReasonNonceInvalid {
		t.Fatalf("stale nonce: got %v", err)
	}
}

func TestStatelessNonceSteps(t *testing.T) {
	k1, k2 := make([]byte, 32), make([]byte, 32)
	k2[0] = 1
	src, _ := NewStatelessNonces("ctx", time.Minute, k1)
	t0 := time.Unix(1_800_000_000, 0).Truncate(time.Minute)
	n, _ := src.Nonce(t0)
	for _, c := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {59 * time.Second, true}, {60 * time.Second, true}, {119 * time.Second, true}, {120 * time.Second, false}, {-time.Second, false}} {
		if got := src.Check(n, t0.Add(c.at)); got != c.want {
			t.Errorf("at %v: Check = %v, want %v", c.at, got, c.want)
		}
	}
	// Rotation: a source whose first key is new still accepts the old key's
	// nonces; a source that dropped the old key does not.
	rotated, _ := NewStatelessNonces("ctx", time.Minute, k2, k1)
	if !rotated.Check(n, t0) {
		t.Error("rotated source refuses a nonce of its previous key")
	}
	dropped, _ := NewStatelessNonces("ctx", time.Minute, k2)
	if dropped.Check(n, t0) {
		t.Error("a source without the key accepts its nonce")
	}
	// Tampering with any byte is refused.
	b := []byte(n)
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		if src.Check(string(c), t0) {
			t.Errorf("tampered byte %d accepted", i)
		}
	}
	if _, err := NewStatelessNonces("ctx", time.Minute, make([]byte, 16)); !errors.Is(err, ErrNonceKey) {
		t.Errorf("short key: %v", err)
	}
}

// failingStore is a replay store that is always unreachable.
type failingStore struct{ err error }

func (s failingStore) Use(context.Context, string, string, time.Time) error { return s.err }

func TestReplayStoreFailureRefuses(t *testing.T) {
	for _, c := range []struct {
		err  error
		want *Error
	}{{ErrStoreFull, ErrReplayStoreFull}, {errors.New("connection refused"), ErrReplayStoreError}} {
		v, _ := NewVerifier(WithClock(fixedClock), WithReplayStore(failingStore{c.err}))
		f := newFixture(t)
		_, err := v.Verify(context.Background(), f.request(craft(t, f.hdr, f.claims, "ES256", f.key)))
		var de *Error
		if !errors.As(err, &de) || de.Reason != c.want.Reason || !de.Temporary() {
			t.Errorf("got %v, want %s", err, c.want.Reason)
		}
	}
}

func TestSignerRoundTrip(t *testing.T) {
	for _, alg := range []string{ES256, ES384, ES512, EdDSA, PS256, RS256} {
		t.Run(alg, func(t *testing.T) {
			key, err := GenerateKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewSigner(key, WithSigningAlgorithm(alg), WithClock(fixedClock))
			if err != nil {
				t.Fatal(err)
			}
			proof, err := s.Proof("POST", testURL+"?q=1#f", WithAccessToken(testToken), WithNonce("n-1"))
			if err != nil {
				t.Fatal(err)
			}
			v, _ := NewVerifier(WithClock(fixedClock))
			p, err := v.Verify(context.Background(), Request{Proofs: []string{proof}, Method: "POST", URL: testURL, AccessToken: testToken, JKT: s.Thumbprint()})
			if err != nil {
				t.Fatal(err)
			}
			if p.URL != testURL || p.Nonce != "n-1" || p.Algorithm != alg || len(p.JTI) < 16 {
				t.Errorf("proof %+v", p)
			}
			// The hand-written signer's proofs verify with go-jose too.
			if ralg, jkt, ok := referenceParse(proof); !ok || ralg != alg || jkt != s.Thumbprint() {
				t.Errorf("go-jose: alg %s jkt %s ok %v", ralg, jkt, ok)
			}
		})
	}
}

func TestSignerRefusesMismatchedAlgorithm(t *testing.T) {
	key, _ := GenerateKey(ES256)
	for _, alg := range []string{ES384, EdDSA, RS256, "HS256", "none"} {
		if _, err := NewSigner(key, WithSigningAlgorithm(alg)); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("%s: got %v", alg, err)
		}
	}
	if _, err := GenerateKey("HS256"); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("GenerateKey(HS256): %v", err)
	}
}

func TestSignerJTIUnique(t *testing.T) {
	key, _ := GenerateKey(ES256)
	s, _ := NewSigner(key)
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		p, err := s.Proof("GET", testURL)
		if err != nil {
			t.Fatal(err)
		}
		var c claims
		b, _ := base64.RawURLEncoding.DecodeString(strings.Split(p, ".")[1])
		_ = json.Unmarshal(b, &c)
		if seen[c.JTI] {
			t.Fatal("duplicate jti")
		}
		seen[c.JTI] = true
	}
}

func TestSignerRefusesBadURL(t *testing.T) {
	key, _ := GenerateKey(ES256)
	s, _ := NewSigner(key)
	for _, u := range []string{"/relative", "ftp://x/y", "://", ""} {
		if _, err := s.Proof("GET", u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	if _, err := s.Proof("", testURL); err == nil {
		t.Error("empty method accepted")
	}
}

// TestHeaderCacheChangesNoDecision: once a client's header is cached, a
// proof with that header and a bad signature, or another claim set, is
// still judged in full; and the cache stays bounded.
func TestHeaderCacheChangesNoDecision(t *testing.T) {
	v, _ := NewVerifier(WithClock(fixedClock))
	f := newFixture(t)
	if _, err := v.Verify(context.Background(), f.request(craft(t, f.hdr, f.claims, "ES256", f.key))); err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.claims["jti"] = "jti-2"
	if _, err := v.Verify(context.Background(), f.request(craft(t, f.hdr, f.claims, "ES256", other))); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("cached header, forged signature: %v", err)
	}
	f.claims["htm"] = "GET"
	if _, err := v.Verify(context.Background(), f.request(craft(t, f.hdr, f.claims, "ES256", f.key))); !errors.Is(err, ErrHTMMismatch) {
		t.Fatalf("cached header, wrong htm: %v", err)
	}
	for i := 0; i < headerCacheSize+10; i++ {
		v.headers.put(fmt.Sprint(i), &parsedHeader{})
	}
	if n := len(v.headers.m); n > headerCacheSize {
		t.Fatalf("header cache holds %d", n)
	}
}
