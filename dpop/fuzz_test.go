package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// seedProofs are valid proofs of every supported kind, for fuzz corpora.
func seedProofs(f *testing.F) []string {
	f.Helper()
	out := []string{rfcProof, malleate(&testing.T{}, rfcProof)}
	for _, alg := range []string{ES256, ES384, EdDSA, PS256, RS256} {
		k, err := GenerateKey(alg)
		if err != nil {
			f.Fatal(err)
		}
		s, _ := NewSigner(k, WithSigningAlgorithm(alg), WithClock(fixedClock))
		p, _ := s.Proof("POST", testURL, WithAccessToken(testToken), WithNonce("n"))
		out = append(out, p)
	}
	return out
}

// ambiguousProofs are signed proofs with duplicate or case-variant member
// names (RFC 8259 §4, RFC 7515 §4), which the verifier must refuse.
func ambiguousProofs(f *testing.F) []string {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	o, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := json.Marshal(publicJWK(f, &k.PublicKey))
	ojwk, _ := json.Marshal(publicJWK(f, &o.PublicKey))
	good := `"typ":"dpop+jwt","alg":"ES256","jwk":` + string(jwk)
	claims := `{"jti":"j","htm":"POST","htu":"` + testURL + `","iat":1700000000}`
	var out []string
	for _, c := range [][2]string{
		{`{"TYP":"dpop+jwt","alg":"ES256","jwk":` + string(jwk) + `}`, claims},
		{`{"typ":"jwt",` + good + `}`, claims},
		{`{"alg":"HS256",` + good + `}`, claims},
		{`{"jwk":` + string(ojwk) + `,` + good + `}`, claims},
		{`{` + strings.Replace(good, `"jwk":{`, `"jwk":{"kty":"OKP",`, 1) + `}`, claims},
		{`{` + good + `}`, strings.Replace(claims, `"htu"`, `"HTU"`, 1)},
		{`{` + good + `}`, strings.Replace(claims, `{`, `{"htu":"https://evil.example/",`, 1)},
	} {
		out = append(out, craftRaw(f, []byte(c[0]), []byte(c[1]), "ES256", k))
	}
	return out
}

// FuzzVerify feeds arbitrary proofs to the verifier: it must never panic,
// must refuse with a *Error, and whatever it accepts must satisfy the claims
// it was asked to check.
func FuzzVerify(f *testing.F) {
	for _, p := range seedProofs(f) {
		f.Add(p, "POST", testURL)
	}
	for _, p := range ambiguousProofs(f) {
		f.Add(p, "POST", testURL)
	}
	f.Add("a.b.c", "GET", "https://x/")
	f.Add("", "GET", "https://x/")
	v, _ := NewVerifier(WithClock(func() time.Time { return rfcTime }))
	f.Fuzz(func(t *testing.T, proof, method, u string) {
		p, err := v.Verify(context.Background(), Request{Proofs: []string{proof}, Method: method, URL: u})
		if err != nil {
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("not a *dpop.Error: %v", err)
			}
			return
		}
		if p.Method != method {
			t.Fatalf("accepted htm %q for method %q", p.Method, method)
		}
		a, _ := NormalizeURL(p.URL)
		b, _ := NormalizeURL(u)
		if a != b || a == "" {
			t.Fatalf("accepted htu %q for %q", p.URL, u)
		}
	})
}

// FuzzNormalizeURL checks that normalization never panics, is idempotent,
// and keeps the comparison's security properties: no query, fragment or
// userinfo survives.
func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{
		testURL, "HTTPS://Example.COM:443/a/./b/../c?q#f", "http://[::1]:80/%7e%2F", "https://a/%zz",
		"https://user:pw@host/", "http://x:0/", "https://x/a/../../..", "http://%41/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeURL(s)
		if err != nil {
			return
		}
		n2, err := NormalizeURL(n)
		if err != nil {
			t.Fatalf("normal form %q of %q does not parse: %v", n, s, err)
		}
		if n2 != n {
			t.Fatalf("not idempotent: %q → %q → %q", s, n, n2)
		}
		u, err := url.Parse(n)
		if err != nil || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Host == "" {
			t.Fatalf("normal form %q of %q keeps query, fragment or userinfo, or lost its host", n, s)
		}
	})
}

// referenceParse checks a proof's signature and jwk with go-jose, the
// library the hand-written parse replaced.
func referenceParse(raw string) (alg, jkt string, ok bool) {
	var algs []jose.SignatureAlgorithm
	for _, a := range DefaultAlgorithms {
		algs = append(algs, jose.SignatureAlgorithm(a))
	}
	jws, err := jose.ParseSignedCompact(raw, algs)
	if err != nil || len(jws.Signatures) != 1 {
		return "", "", false
	}
	h := jws.Signatures[0].Protected
	if h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() || !h.JSONWebKey.Valid() {
		return "", "", false
	}
	if _, err := jws.Verify(h.JSONWebKey.Key); err != nil {
		return "", "", false
	}
	jkt, err = Thumbprint(h.JSONWebKey.Key)
	return h.Algorithm, jkt, err == nil
}

// FuzzDifferential checks the hand-written parse against go-jose: whatever
// the fast path accepts, go-jose accepts with the same algorithm and
// thumbprint; and what go-jose accepts, the fast path accepts too unless one
// of Ward's stricter rules refuses it (typ, crit, key size and curve fit,
// fixed-length coordinates, the PSS salt length).
func FuzzDifferential(f *testing.F) {
	for _, p := range seedProofs(f) {
		f.Add(p)
		parts := strings.Split(p, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + "." + parts[2] + "." + parts[1])
	}
	for _, p := range ambiguousProofs(f) {
		f.Add(p)
	}
	// go-jose does not know the RFC 9864 name Ed25519, so the comparison
	// runs over the algorithms both implement.
	var common []string
	for _, a := range DefaultAlgorithms {
		if a != Ed25519 {
			common = append(common, a)
		}
	}
	v, _ := NewVerifier(WithAllowedAlgorithms(common...))
	f.Fuzz(func(t *testing.T, raw string) {
		fast, ferr := v.parse(raw)
		alg, jkt, ok := referenceParse(raw)
		if ferr == nil {
			if !ok {
				t.Fatalf("fast path accepts what go-jose refuses: %q", raw)
			}
			if fast.alg != alg || fast.jkt != jkt {
				t.Fatalf("fast path alg/jkt %s/%s, go-jose %s/%s", fast.alg, fast.jkt, alg, jkt)
			}
			return
		}
		if ok {
			switch {
			case ferr.Reason == ReasonBadType, ferr.Reason == ReasonBadHeader, ferr.Reason == ReasonBadKey,
				ferr.Reason == ReasonTooLarge, ferr.Reason == ReasonPrivateKey:
				// Ward's own, stricter rules.
			case ferr.Reason == ReasonBadSignature && strings.HasPrefix(alg, "PS"):
				// go-jose accepts any PSS salt length; RFC 7518 §3.5
				// requires the hash's length, and Ward checks it.
			default:
				t.Fatalf("go-jose accepts what the fast path refuses (%v): %q", ferr, raw)
			}
		}
	})
}

func TestDifferentialSeeds(t *testing.T) {
	// The seeds agree, and a non-canonical (short) EC coordinate is refused
	// by the fast path as bad_key, not accepted with another thumbprint.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	v, _ := NewVerifier()
	for _, c := range []struct {
		alg string
		key any
		pub any
	}{{"ES256", k, &k.PublicKey}, {"RS256", rk, &rk.PublicKey}, {"EdDSA", ek, ek.Public()}} {
		p := craft(t, map[string]any{"typ": "dpop+jwt", "alg": c.alg, "jwk": publicJWK(t, c.pub)}, map[string]any{"jti": "x"}, c.alg, c.key)
		fast, err := v.parse(p)
		alg, jkt, ok := referenceParse(p)
		if err != nil || !ok || fast.jkt != jkt || fast.alg != alg {
			t.Errorf("%s: fast %v %v, reference %s %s %v", c.alg, fast, err, alg, jkt, ok)
		}
	}
	jwk := publicJWK(t, &k.PublicKey)
	x, _ := base64.RawURLEncoding.DecodeString(jwk["x"].(string))
	if x[0] == 0 {
		t.Skip("x has a leading zero already")
	}
	jwk["x"] = base64.RawURLEncoding.EncodeToString(append([]byte{0}, x...))
	p := craft(t, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}, map[string]any{"jti": "x"}, "ES256", k)
	if _, err := v.parse(p); err == nil || err.Reason != ReasonBadKey {
		t.Errorf("33-byte x: got %v, want bad_key", err)
	}
}

// FuzzNonceCheck: arbitrary nonces never panic and are never accepted.
func FuzzNonceCheck(f *testing.F) {
	src, _ := NewStatelessNonces("ctx", time.Minute, make([]byte, 32))
	n, _ := src.Nonce(testNow)
	f.Add(n)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if s != n && src.Check(s, testNow) {
			t.Fatalf("forged nonce %q accepted", s)
		}
	})
}
