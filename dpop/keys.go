package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// Algorithm names (RFC 7518 §3.1, RFC 8037 §3.1).
const (
	ES256 = string(jose.ES256)
	ES384 = string(jose.ES384)
	ES512 = string(jose.ES512)
	EdDSA = string(jose.EdDSA)
	// Ed25519 is the fully-specified name for EdDSA with Ed25519 (RFC 9864
	// §2.2), which some clients (the npm package dpop) send.
	Ed25519 = "Ed25519"
	PS256   = string(jose.PS256)
	PS384   = string(jose.PS384)
	PS512   = string(jose.PS512)
	RS256   = string(jose.RS256)
	RS384   = string(jose.RS384)
	RS512   = string(jose.RS512)
)

// DefaultAlgorithms is the verifier's default allow-list: every asymmetric
// algorithm in common use by DPoP clients. HMAC and none are never allowed
// (RFC 9449 §4.3 (5)).
var DefaultAlgorithms = []string{ES256, ES384, ES512, EdDSA, Ed25519, PS256, PS384, PS512, RS256, RS384, RS512}

// minRSABits is the smallest RSA modulus accepted in a proof or generated.
const minRSABits = 2048

// ErrUnsupportedAlgorithm is returned for an algorithm Ward cannot use.
var ErrUnsupportedAlgorithm = errors.New("dpop: unsupported algorithm")

// GenerateKey makes a new private key for alg: ES256 (P-256), ES384, ES512,
// EdDSA (Ed25519), or an RSA algorithm (3072-bit modulus).
func GenerateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ES384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case ES512:
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case PS256, PS384, PS512, RS256, RS384, RS512:
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
}

// Thumbprint returns the RFC 7638 JWK SHA-256 thumbprint of a public key,
// base64url-encoded: the value of cnf.jkt (RFC 9449 §6) and of dpop_jkt.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("dpop: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// ATH returns the ath claim for an access token: base64url of the SHA-256
// of its ASCII bytes (RFC 9449 §4.2).
func ATH(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// MatchThumbprint compares two thumbprints in constant time. Resource
// servers use it to check a proof's key against a token's cnf.jkt
// (RFC 9449 §4.3 (12)).
func MatchThumbprint(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// algorithmFor picks the default algorithm for a public key.
func algorithmFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ES256, nil
		case elliptic.P384():
			return ES384, nil
		case elliptic.P521():
			return ES512, nil
		}
	case ed25519.PublicKey:
		return EdDSA, nil
	case *rsa.PublicKey:
		return PS256, nil
	}
	return "", fmt.Errorf("%w: key type %T", ErrUnsupportedAlgorithm, pub)
}

// keyFitsAlgorithm checks that a public key can be used with alg: the curve
// named by ES*, an Ed25519 key for EdDSA, an RSA key of at least 2048 bits
// for RS* and PS*.
func keyFitsAlgorithm(pub crypto.PublicKey, alg string) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		want := map[string]elliptic.Curve{ES256: elliptic.P256(), ES384: elliptic.P384(), ES512: elliptic.P521()}[alg]
		if want == nil || k.Curve != want {
			return fmt.Errorf("an EC key on %s cannot sign %s", k.Curve.Params().Name, alg)
		}
		return nil
	case ed25519.PublicKey:
		if alg != EdDSA && alg != Ed25519 {
			return fmt.Errorf("an Ed25519 key cannot sign %s", alg)
		}
		return nil
	case *rsa.PublicKey:
		switch alg {
		case PS256, PS384, PS512, RS256, RS384, RS512:
		default:
			return fmt.Errorf("an RSA key cannot sign %s", alg)
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits is below the minimum of %d", k.N.BitLen(), minRSABits)
		}
		return nil
	}
	return fmt.Errorf("unsupported key type %T", pub)
}
