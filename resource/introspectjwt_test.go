package resource_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/resource"
)

var ijNow = time.Unix(1_800_000_000, 0)

const ijHeader = `{"alg":"ES256","kid":"k1","typ":"token-introspection+jwt"}`

// ijKey is a signing key and a StaticKeys publishing it as k1.
func ijKey(t testing.TB) (*ecdsa.PrivateKey, resource.StaticKeys) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k, resource.StaticKeys{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
}

// ijSign signs the exact header and payload bytes (JWS ES256, r||s).
func ijSign(t testing.TB, k *ecdsa.PrivateKey, hdr, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(hdr)) + "." + enc.EncodeToString([]byte(payload))
	d := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + enc.EncodeToString(sig)
}

func ijPayload(over map[string]any) string {
	m := map[string]any{"iss": "https://as.example", "aud": "rs", "iat": ijNow.Unix(),
		"token_introspection": map[string]any{"active": true, "sub": "u1", "client_id": "app", "scope": "read",
			"exp": ijNow.Add(time.Minute).Unix(), "cnf": map[string]any{"jkt": "thumb"}}}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func ijVerifier(ks resource.KeySource) *resource.IntrospectionJWTVerifier {
	return &resource.IntrospectionJWTVerifier{Issuer: "https://as.example", ClientID: "rs", Keys: ks, Clock: func() time.Time { return ijNow }}
}

// TestIntrospectionJWTVerifier: a response the issuer signed for this
// resource server gives the introspection inside, active or not.
func TestIntrospectionJWTVerifier(t *testing.T) {
	k, ks := ijKey(t)
	in, err := ijVerifier(ks).Verify(context.Background(), ijSign(t, k, ijHeader, ijPayload(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !in.Active || in.Subject != "u1" || in.ClientID != "app" || in.Scope != "read" || in.JKT != "thumb" {
		t.Fatalf("introspection %+v", in)
	}
	in, err = ijVerifier(ks).Verify(context.Background(), ijSign(t, k, ijHeader, ijPayload(map[string]any{"token_introspection": map[string]any{"active": false}})))
	if err != nil || in.Active {
		t.Fatalf("inactive: %+v %v", in, err)
	}
}

// TestIntrospectionJWTVerifierRefuses: every RFC 9701 §5 rule, broken
// alone, is refused with ErrIntrospectionJWT (and ErrIntrospection).
func TestIntrospectionJWTVerifierRefuses(t *testing.T) {
	k, ks := ijKey(t)
	other, _ := ijKey(t)
	good := ijSign(t, k, ijHeader, ijPayload(nil))
	p := strings.Split(good, ".")
	enc := base64.RawURLEncoding
	hdr := func(h string) string { return ijSign(t, k, h, ijPayload(nil)) }
	pay := func(over map[string]any) string { return ijSign(t, k, ijHeader, ijPayload(over)) }
	for name, raw := range map[string]string{
		"payload changed after signing": p[0] + "." + enc.EncodeToString([]byte(ijPayload(map[string]any{"aud": "other"}))) + "." + p[2],
		"signed by another key":         ijSign(t, other, ijHeader, ijPayload(nil)),
		"alg none":                      enc.EncodeToString([]byte(`{"alg":"none","kid":"k1","typ":"token-introspection+jwt"}`)) + "." + p[1] + ".",
		"alg HS256":                     hdr(`{"alg":"HS256","kid":"k1","typ":"token-introspection+jwt"}`),
		"typ JWT":                       hdr(`{"alg":"ES256","kid":"k1","typ":"JWT"}`),
		"typ at+jwt":                    hdr(`{"alg":"ES256","kid":"k1","typ":"at+jwt"}`),
		"typ missing":                   hdr(`{"alg":"ES256","kid":"k1"}`),
		"jwk in header":                 hdr(`{"alg":"ES256","kid":"k1","typ":"token-introspection+jwt","jwk":{}}`),
		"crit":                          hdr(`{"alg":"ES256","kid":"k1","typ":"token-introspection+jwt","crit":["x"]}`),
		"unknown kid":                   hdr(`{"alg":"ES256","kid":"k2","typ":"token-introspection+jwt"}`),
		"other issuer":                  pay(map[string]any{"iss": "https://evil.example"}),
		"other audience":                pay(map[string]any{"aud": "other-rs"}),
		"aud missing":                   pay(map[string]any{"aud": nil}),
		"iat missing":                   pay(map[string]any{"iat": nil}),
		"iat an hour old":               pay(map[string]any{"iat": ijNow.Add(-time.Hour).Unix()}),
		"iat an hour ahead":             pay(map[string]any{"iat": ijNow.Add(time.Hour).Unix()}),
		"token_introspection missing":   pay(map[string]any{"token_introspection": nil}),
		"active missing":                pay(map[string]any{"token_introspection": map[string]any{"sub": "u1"}}),
		"active a string":               pay(map[string]any{"token_introspection": map[string]any{"active": "true"}}),
		"ACTIVE for active":             ijSign(t, k, ijHeader, strings.Replace(ijPayload(nil), `"active":`, `"ACTIVE":`, 1)),
		"active twice":                  ijSign(t, k, ijHeader, strings.Replace(ijPayload(nil), `"active":true`, `"active":false,"active":true`, 1)),
		"not a JWS":                     "abc",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ijVerifier(ks).Verify(context.Background(), raw)
			if !errors.Is(err, resource.ErrIntrospectionJWT) || !errors.Is(err, resource.ErrIntrospection) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
		})
	}
}

// FuzzIntrospectionJWTVerify: no input panics the verifier, and nothing
// accepted comes without a signature of the issuer's key.
func FuzzIntrospectionJWTVerify(f *testing.F) {
	k, ks := ijKey(f)
	f.Add(ijSign(f, k, ijHeader, ijPayload(nil)))
	f.Add(ijSign(f, k, ijHeader, ijPayload(map[string]any{"token_introspection": map[string]any{"active": false}})))
	f.Add(ijSign(f, k, ijHeader, `{"iss":"https://as.example"}`))
	f.Add("a.b.c")
	v := ijVerifier(ks)
	f.Fuzz(func(t *testing.T, s string) {
		in, err := v.Verify(context.Background(), s)
		if err == nil && in == nil {
			t.Fatal("nil introspection without error")
		}
	})
}
