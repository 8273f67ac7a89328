package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// testKeys are one key per algorithm Sign supports.
func testKeys(t testing.TB) map[string]crypto.Signer {
	t.Helper()
	ec := func(c elliptic.Curve) crypto.Signer {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]crypto.Signer{
		"ES256": ec(elliptic.P256()), "ES384": ec(elliptic.P384()), "ES512": ec(elliptic.P521()),
		"EdDSA": ed,
		"RS256": rk, "RS384": rk, "RS512": rk, "PS256": rk, "PS384": rk, "PS512": rk,
	}
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// verifyWithGoJose parses tok with go-jose, allowing only alg, verifies
// it with pub and checks header and payload came through unchanged.
func verifyWithGoJose(t testing.TB, tok, alg string, pub crypto.PublicKey, kid string, payload []byte) {
	t.Helper()
	sig, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("%s: go-jose cannot parse %q: %v", alg, tok, err)
	}
	got, err := sig.Verify(pub)
	if err != nil {
		t.Fatalf("%s: go-jose does not verify the signature: %v", alg, err)
	}
	if string(got) != string(payload) {
		t.Fatalf("%s: payload %q, want %q", alg, got, payload)
	}
	h := sig.Signatures[0].Protected
	if h.Algorithm != alg || h.KeyID != kid || h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
		t.Fatalf("%s: header %+v", alg, h)
	}
}

// TestSignVerifiedByGoJose is the differential check of the one JWS
// signer: go-jose, told to accept only the algorithm, verifies what Sign
// makes for every algorithm Ward signs with (access tokens: ES256, EdDSA;
// DPoP proofs: all of them).
func TestSignVerifiedByGoJose(t *testing.T) {
	for alg, key := range testKeys(t) {
		t.Run(alg, func(t *testing.T) {
			hdr, err := EncodeHeader(header{alg, "kid-" + alg, "at+jwt"})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				payload := []byte(`{"sub":"` + strings.Repeat("x", i*37) + `","iat":1700000000}`)
				tok, err := Sign(key, alg, hdr, payload)
				if err != nil {
					t.Fatal(err)
				}
				verifyWithGoJose(t, tok, alg, key.Public(), "kid-"+alg, payload)
			}
		})
	}
}

// FuzzSignVerifiedByGoJose: for any payload, go-jose verifies Sign's
// ES256 and EdDSA output and reads back the same payload.
func FuzzSignVerifiedByGoJose(f *testing.F) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"iss":"https://as.example"}`), "kid", false)
	f.Add([]byte{}, "", true)
	f.Add([]byte("\x00\xff not json \u2028"), "k\"<&>", true)
	f.Fuzz(func(t *testing.T, payload []byte, kid string, eddsa bool) {
		alg, key := "ES256", crypto.Signer(ec)
		if eddsa {
			alg, key = "EdDSA", ed
		}
		hdr, err := EncodeHeader(header{alg, kid, "at+jwt"})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := Sign(key, alg, hdr, payload)
		if err != nil {
			t.Fatal(err)
		}
		// go-jose reads the kid through encoding/json, which replaces
		// invalid UTF-8; compare with what it would read.
		var want header
		raw, _ := base64.RawURLEncoding.DecodeString(hdr)
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		verifyWithGoJose(t, tok, alg, key.Public(), want.Kid, payload)
	})
}

// TestSignRefuses: an unknown algorithm, and an ECDSA algorithm with a
// key that is not ECDSA, are errors rather than a token.
func TestSignRefuses(t *testing.T) {
	keys := testKeys(t)
	for _, tc := range []struct {
		alg string
		key crypto.Signer
	}{{"none", keys["ES256"]}, {"HS256", keys["ES256"]}, {"Ed25519", keys["EdDSA"]}, {"ES256", keys["EdDSA"]}, {"ES256", keys["RS256"]}} {
		if tok, err := Sign(tc.key, tc.alg, "e30", []byte("{}")); !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Errorf("%s with %T: %q, %v; want ErrUnsupportedAlgorithm", tc.alg, tc.key, tok, err)
		}
	}
}

// derSigner is a crypto.Signer whose ECDSA signatures are a fixed byte
// string, to feed derToRaw malformed DER through Sign.
type derSigner struct {
	*ecdsa.PrivateKey
	der []byte
}

func (s derSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return s.der, nil }

func asn1Sig(r, s *big.Int) ([]byte, error) {
	return asn1.Marshal(struct{ R, S *big.Int }{r, s})
}

// TestDerToRaw checks the DER to R || S conversion at the edges for each
// curve size: short values are left-padded, a leading zero byte (for a
// high bit) is dropped, and malformed, oversized, negative or zero values
// are refused, also through Sign.
func TestDerToRaw(t *testing.T) {
	der := func(r, s *big.Int) []byte {
		b, err := asn1Sig(r, s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	one := big.NewInt(1)
	for _, size := range []int{32, 48, 66} {
		bits := 8 * size
		high := new(big.Int).Lsh(one, uint(bits-1)) // 0x80 00…: DER adds a zero byte
		maxv := new(big.Int).Sub(new(big.Int).Lsh(one, uint(bits)), one)
		for _, tc := range []struct{ r, s *big.Int }{{one, one}, {high, one}, {one, high}, {maxv, maxv}} {
			raw, err := derToRaw(der(tc.r, tc.s), size)
			if err != nil {
				t.Fatalf("%d: %v %v: %v", size, tc.r, tc.s, err)
			}
			if len(raw) != 2*size {
				t.Fatalf("%d: length %d", size, len(raw))
			}
			if r := new(big.Int).SetBytes(raw[:size]); r.Cmp(tc.r) != 0 {
				t.Errorf("%d: r = %v, want %v", size, r, tc.r)
			}
			if s := new(big.Int).SetBytes(raw[size:]); s.Cmp(tc.s) != 0 {
				t.Errorf("%d: s = %v, want %v", size, s, tc.s)
			}
		}
		tooBig := new(big.Int).Lsh(one, uint(bits))
		for name, b := range map[string][]byte{
			"empty":     nil,
			"trailing":  append(der(one, one), 0),
			"negative":  der(big.NewInt(-1), one),
			"zero r":    der(big.NewInt(0), one),
			"zero s":    der(one, big.NewInt(0)),
			"oversized": der(tooBig, one),
			"garbage":   []byte(strings.Repeat("x", 10)),
			"base64":    []byte(base64.StdEncoding.EncodeToString(der(one, one))),
		} {
			if _, err := derToRaw(b, size); !errors.Is(err, ErrMalformedSignature) {
				t.Errorf("%d: %s: %v, want ErrMalformedSignature", size, name, err)
			}
		}
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(derSigner{ec, der(big.NewInt(0), one)}, "ES256", "e30", nil); !errors.Is(err, ErrMalformedSignature) {
		t.Errorf("Sign with a zero r: %v, want ErrMalformedSignature", err)
	}
}
