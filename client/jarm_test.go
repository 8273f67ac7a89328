package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/authz"
)

const jarmIssuer, jarmClient = "https://as.example", "app"

var jarmNow = time.Unix(1_800_000_000, 0)

// jarmKeys is a signing key and the StaticKeySet publishing it as k1.
func jarmKeys(t testing.TB) (*ecdsa.PrivateKey, StaticKeySet) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k, StaticKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
}

// signJARM signs payload (raw JSON) with key under header hdr (raw JSON),
// byte for byte as given: JWS ES256, r||s (RFC 7518 §3.4).
func signJARM(t testing.TB, k *ecdsa.PrivateKey, hdr, payload string) string {
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

func jarmPayload(over map[string]any) string {
	m := map[string]any{"iss": jarmIssuer, "aud": jarmClient, "exp": jarmNow.Add(5 * time.Minute).Unix(), "code": "c0de", "state": "st"}
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

const jarmHeader = `{"alg":"ES256","kid":"k1","typ":"JWT"}`

func newJARMVerifier(ks KeySet) *JARMVerifier {
	return NewJARMVerifier(jarmIssuer, jarmClient, ks, WithIDTokenClock(func() time.Time { return jarmNow }))
}

// TestJARMVerifier: a response signed by the issuer's key for this
// client gives back its parameters, iss included, and nothing else.
func TestJARMVerifier(t *testing.T) {
	k, ks := jarmKeys(t)
	q, err := newJARMVerifier(ks).Verify(context.Background(), signJARM(t, k, jarmHeader, jarmPayload(nil)))
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"iss": {jarmIssuer}, "code": {"c0de"}, "state": {"st"}}
	if q.Encode() != want.Encode() {
		t.Fatalf("got %v, want %v", q, want)
	}
	q, err = newJARMVerifier(ks).Verify(context.Background(),
		signJARM(t, k, jarmHeader, jarmPayload(map[string]any{"code": nil, "error": "access_denied", "error_description": "no"})))
	if err != nil || q.Get("error") != "access_denied" || q.Get("error_description") != "no" || q.Has("code") {
		t.Fatalf("error response: %v %v", q, err)
	}
}

// TestJARMVerifierRefuses: every JARM §2.4 rule, broken alone, is
// refused with ErrJARM.
func TestJARMVerifierRefuses(t *testing.T) {
	k, ks := jarmKeys(t)
	other, _ := jarmKeys(t)
	good := signJARM(t, k, jarmHeader, jarmPayload(nil))
	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding
	for name, resp := range map[string]string{
		"payload changed after signing": parts[0] + "." + enc.EncodeToString([]byte(jarmPayload(map[string]any{"code": "stolen"}))) + "." + parts[2],
		"signed by another key":         signJARM(t, other, jarmHeader, jarmPayload(nil)),
		"alg none":                      enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".",
		"alg HS256":                     enc.EncodeToString([]byte(`{"alg":"HS256","kid":"k1"}`)) + "." + parts[1] + "." + parts[2],
		"typ at+jwt":                    signJARM(t, k, `{"alg":"ES256","kid":"k1","typ":"at+jwt"}`, jarmPayload(nil)),
		"crit header":                   signJARM(t, k, `{"alg":"ES256","kid":"k1","crit":["x"],"x":1}`, jarmPayload(nil)),
		"expired":                       signJARM(t, k, jarmHeader, jarmPayload(map[string]any{"exp": jarmNow.Add(-2 * time.Minute).Unix()})),
		"exp missing":                   signJARM(t, k, jarmHeader, jarmPayload(map[string]any{"exp": nil})),
		"exp a string":                  signJARM(t, k, jarmHeader, jarmPayload(map[string]any{"exp": "soon"})),
		"exp a day away":                signJARM(t, k, jarmHeader, jarmPayload(map[string]any{"exp": jarmNow.Add(24 * time.Hour).Unix()})),
		"other issuer":                  signJARM(t, k, jarmHeader, jarmPayload(map[string]any{"iss": "https://evil.example"})),
		"iss missing":                   signJARM(t, k, jarmHeader, jarmPayload(map[string]any{"iss": nil})),
		"other audience":                signJARM(t, k, jarmHeader, jarmPayload(map[string]any{"aud": "other"})),
		"aud missing":                   signJARM(t, k, jarmHeader, jarmPayload(map[string]any{"aud": nil})),
		"code and error":                signJARM(t, k, jarmHeader, jarmPayload(map[string]any{"error": "access_denied"})),
		"neither code nor error":        signJARM(t, k, jarmHeader, jarmPayload(map[string]any{"code": nil})),
		"Code beside code":              signJARM(t, k, jarmHeader, strings.Replace(jarmPayload(nil), `"code":`, `"Code":"x","code":`, 1)),
		"code twice":                    signJARM(t, k, jarmHeader, strings.Replace(jarmPayload(nil), `"code":`, `"code":"x","code":`, 1)),
		"STATE for state":               signJARM(t, k, jarmHeader, strings.Replace(jarmPayload(nil), `"state":`, `"STATE":`, 1)),
		"not a JWS":                     "abc",
		"huge":                          strings.Repeat("a", 70<<10),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := newJARMVerifier(ks).Verify(context.Background(), resp); !errors.Is(err, ErrJARM) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
		})
	}
}

// TestExchangeRedirectJARM: WithJARM against Ward sends
// response_mode=jwt, verifies the signed response and redeems its code;
// a response whose JWT was altered, or a plain redirect (downgrade), is
// refused before the code is redeemed.
func TestExchangeRedirectJARM(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(*url.URL)
		ok     bool
	}{
		{"signed", nil, true},
		{"altered", func(u *url.URL) {
			q := u.Query()
			r := []byte(q.Get("response"))
			i := strings.IndexByte(string(r), '.') + 3
			r[i] ^= 1
			q.Set("response", string(r))
			u.RawQuery = q.Encode()
		}, false},
		{"plain", func(u *url.URL) {
			u.RawQuery = url.Values{"code": {"x"}, "state": {"y"}, "iss": {"z"}}.Encode()
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			c := s.client("app", WithScopes("read"), WithJARM(), WithBrowser(userAgent(t, "allow", tc.tamper)))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tok, err := c.AuthorizeLoopback(ctx)
			if tc.ok {
				if err != nil || tok.AccessToken == "" {
					t.Fatalf("JARM flow: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrJARM) {
				t.Fatalf("error %v, want ErrJARM", err)
			}
			if n := s.count(authz.PathToken); n != 0 {
				t.Fatalf("%d token requests: the code must not be redeemed", n)
			}
		})
	}
}

// FuzzJARMVerify: no input panics the verifier, and nothing it accepts
// lacks the issuer, or both or neither of code and error.
func FuzzJARMVerify(f *testing.F) {
	k, ks := jarmKeys(f)
	good := signJARM(f, k, jarmHeader, jarmPayload(nil))
	f.Add(good)
	f.Add(signJARM(f, k, jarmHeader, jarmPayload(map[string]any{"code": nil, "error": "x"})))
	f.Add(signJARM(f, k, jarmHeader, `{"iss":1}`))
	f.Add("a.b.c")
	f.Add("")
	v := newJARMVerifier(ks)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := v.Verify(context.Background(), s)
		if err != nil {
			return
		}
		if q.Get("iss") != jarmIssuer || q.Has("code") == q.Has("error") {
			t.Fatalf("accepted %v", q)
		}
	})
}
