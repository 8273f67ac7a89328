// Package jwstest forges compact JWS for tests: any header and payload,
// signed with ES256, EdDSA, RS256, HS256 or none, so tests can make
// tokens and proofs no honest signer would (wrong typ, private jwk,
// duplicate members, alg none).
package jwstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
)

// Craft signs hdr and claims, marshalled as JSON. alg picks the signature:
// ES256 (key *ecdsa.PrivateKey), EdDSA (ed25519.PrivateKey), RS256
// (*rsa.PrivateKey), HS256 (key is the []byte secret) or none.
func Craft(t testing.TB, hdr, claims map[string]any, alg string, key any) string {
	t.Helper()
	hb, _ := json.Marshal(hdr)
	cb, _ := json.Marshal(claims)
	return CraftRaw(t, hb, cb, alg, key)
}

// CraftRaw is Craft for a header and claims given as JSON text, so a test
// can send what no map holds: duplicate and case-variant member names.
func CraftRaw(t testing.TB, hb, cb []byte, alg string, key any) string {
	t.Helper()
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "ES256":
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case "EdDSA":
		sig = ed25519.Sign(key.(ed25519.PrivateKey), []byte(input))
	case "RS256":
		var err error
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:])
		if err != nil {
			t.Fatal(err)
		}
	case "HS256":
		m := hmac.New(sha256.New, key.([]byte))
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "none":
	default:
		t.Fatalf("jwstest: alg %s", alg)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}
