package jwstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestCraftVerifies: an ES256 forgery is a valid JWS to go-jose.
func TestCraftVerifies(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s := Craft(t, map[string]any{"alg": "ES256"}, map[string]any{"x": 1}, "ES256", k)
	jws, err := jose.ParseSignedCompact(s, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := jws.Verify(&k.PublicKey); err != nil || string(b) != `{"x":1}` {
		t.Fatalf("%s %v", b, err)
	}
}
