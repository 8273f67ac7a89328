package authz

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/keys"
)

// TestSignJWTVerifiedByGoJose is the differential check of the
// hand-written access-token signer: go-jose, told to accept only the key's
// algorithm, must verify every token signJWT makes with the public key,
// see the exact protected header {alg, kid, typ} and the claims as
// encoding/json wrote them. Each key signs several tokens.
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
