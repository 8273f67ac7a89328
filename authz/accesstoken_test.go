package authz

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/keys"
)

// TestSignJWTVerifiedByGoJose is the differential check of the
// hand-written access-token signer: go-jose, told to accept only the key's
// algorithm, must verify every token signJWT makes with the public key,
// see the exact protected header {alg, kid, typ} and the claims as
// encoding/json wrote them. Each key signs several tokens, so the cached
// header is exercised as well as the first encoding.
func TestSignJWTVerifiedByGoJose(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		alg    jose.SignatureAlgorithm
		signer crypto.Signer
	}{{jose.ES256, ec}, {jose.EdDSA, ed}} {
		t.Run(string(tc.alg), func(t *testing.T) {
			k := &keys.SigningKey{KeyID: "kid-" + string(tc.alg), Algorithm: tc.alg, Signer: tc.signer}
			for i := range 50 {
				claims := atClaims{
					Issuer: "https://as.example", Subject: "sub <&> \"quoted\" \u2028", Audience: audience{"https://rs.example"},
					ClientID: "client", Scope: "read write", JTI: randomToken(16), IssuedAt: 1_700_000_000 + int64(i),
					Expiry: 1_700_000_600 + int64(i), Cnf: &cnf{JKT: randomToken(32)},
				}
				if i%2 == 1 {
					claims.Audience = audience{"https://a.example", "https://b.example"}
					claims.GrantID = "family"
				}
				tok, err := signJWT(k, "at+jwt", &claims)
				if err != nil {
					t.Fatal(err)
				}
				jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{tc.alg})
				if err != nil {
					t.Fatalf("go-jose cannot parse %q: %v", tok, err)
				}
				payload, err := jws.Verify(tc.signer.Public())
				if err != nil {
					t.Fatalf("go-jose does not verify the signature: %v", err)
				}
				h := jws.Signatures[0].Protected
				if h.Algorithm != string(tc.alg) || h.KeyID != k.KeyID || h.ExtraHeaders[jose.HeaderType] != "at+jwt" || len(h.ExtraHeaders) != 1 {
					t.Fatalf("header: %+v", h)
				}
				want, _ := json.Marshal(&claims)
				if string(payload) != string(want) {
					t.Fatalf("payload\n got %s\nwant %s", payload, want)
				}
				var back atClaims
				if err := json.Unmarshal(payload, &back); err != nil || !reflect.DeepEqual(back, claims) {
					t.Fatalf("claims round trip: %v\n got %+v\nwant %+v", err, back, claims)
				}
			}
		})
	}
}

// TestDerToRaw checks the DER to r‖s conversion at the edges: short
// values are left-padded, a leading zero byte (for a high bit) is dropped,
// and malformed or oversized input is refused.
func TestDerToRaw(t *testing.T) {
	der := func(r, s *big.Int) []byte {
		b, err := asn1Sig(r, s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	one := big.NewInt(1)
	high := new(big.Int).Lsh(one, 255) // 0x80 00…: DER adds a zero byte
	for _, tc := range []struct {
		r, s *big.Int
	}{{one, one}, {high, one}, {one, high}, {new(big.Int).Sub(new(big.Int).Lsh(one, 256), one), big.NewInt(0)}} {
		raw, err := derToRaw(der(tc.r, tc.s), 32)
		if err != nil {
			t.Fatalf("%v %v: %v", tc.r, tc.s, err)
		}
		if r := new(big.Int).SetBytes(raw[:32]); r.Cmp(tc.r) != 0 {
			t.Errorf("r = %v, want %v", r, tc.r)
		}
		if s := new(big.Int).SetBytes(raw[32:]); s.Cmp(tc.s) != 0 {
			t.Errorf("s = %v, want %v", s, tc.s)
		}
	}
	tooBig := new(big.Int).Lsh(one, 256)
	for name, b := range map[string][]byte{
		"empty":     nil,
		"trailing":  append(der(one, one), 0),
		"negative":  der(big.NewInt(-1), one),
		"oversized": der(tooBig, one),
		"garbage":   []byte(strings.Repeat("x", 10)),
		"base64":    []byte(base64.StdEncoding.EncodeToString(der(one, one))),
	} {
		if _, err := derToRaw(b, 32); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func asn1Sig(r, s *big.Int) ([]byte, error) {
	return asn1.Marshal(struct{ R, S *big.Int }{r, s})
}
