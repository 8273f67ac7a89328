package jws

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// BenchmarkSignVsGoJose signs the same access-token claims under the same
// header {alg, kid, typ} with the same P-256 key (ES256), by Sign and by
// go-jose's generic signer. Both include encoding the claims; Sign's
// timing also includes encoding the header, as authz does per token.
func BenchmarkSignVsGoJose(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	claims := map[string]any{
		"iss": "https://as.example", "sub": "svc", "aud": "https://api.example",
		"client_id": "svc", "scope": "read write", "jti": "0123456789abcdef0123456789abcdef",
		"iat": 1_700_000_000, "exp": 1_700_000_600, "cnf": map[string]string{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
	}
	b.Run("jws", func(b *testing.B) {
		for b.Loop() {
			hdr, err := EncodeHeader(header{"ES256", "k1", "at+jwt"})
			if err != nil {
				b.Fatal(err)
			}
			payload, err := json.Marshal(claims)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Sign(key, "ES256", hdr, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-jose", func(b *testing.B) {
		// The signer, and so its header, is made once, as a server would.
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
			(&jose.SignerOptions{}).WithType("at+jwt").WithHeader(jose.HeaderKey("kid"), "k1"))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			payload, err := json.Marshal(claims)
			if err != nil {
				b.Fatal(err)
			}
			obj, err := s.Sign(payload)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := obj.CompactSerialize(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
