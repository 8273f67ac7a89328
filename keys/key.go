package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math/big"

	"github.com/go-jose/go-jose/v4"
)

// Supported algorithms.
const (
	ES256 = jose.ES256 // ECDSA P-256 with SHA-256 (default)
	EdDSA = jose.EdDSA // Ed25519
	// RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RSA-2048) is never the
	// primary algorithm: it is a second chain of keys, created on demand
	// (Manager.EnsureKeyFor) for the OpenID Connect clients that register
	// id_token_signed_response_alg RS256, and rotated alongside.
	RS256 = jose.RS256
)

// rsaBits is the size of new RSA keys (RFC 7518 §3.3: at least 2048).
const rsaBits = 2048

// SigningKey is a key that can sign now. It is immutable and shared: do not
// modify it.
type SigningKey struct {
	// KeyID is the kid, the RFC 7638 thumbprint of the public key.
	KeyID     string
	Algorithm jose.SignatureAlgorithm
	// Signer holds the private key; for ES256 it returns ASN.1 signatures
	// as crypto.Signer does, JOSE converts them.
	Signer crypto.Signer
	jose   jose.SigningKey
}

// JOSE returns the key for jose.NewSigner; signatures carry its kid.
func (k *SigningKey) JOSE() jose.SigningKey { return k.jose }

// generate creates a private key for alg.
func generate(alg jose.SignatureAlgorithm) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case RS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
}

// publicJWK returns the public JWK (with kid, alg and use) of s.
func publicJWK(s crypto.Signer, alg jose.SignatureAlgorithm) (jose.JSONWebKey, error) {
	jwk := jose.JSONWebKey{Key: s.Public(), Algorithm: string(alg), Use: "sig"}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return jwk, fmt.Errorf("%w: thumbprint: %w", ErrInvalidKey, err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return jwk, nil
}

func newSigningKey(s crypto.Signer, pub jose.JSONWebKey) *SigningKey {
	alg := jose.SignatureAlgorithm(pub.Algorithm)
	k := &SigningKey{KeyID: pub.KeyID, Algorithm: alg, Signer: s}
	k.jose = jose.SigningKey{Algorithm: alg, Key: &opaque{s: s, pub: &pub, algs: []jose.SignatureAlgorithm{alg}}}
	return k
}

// opaque adapts any crypto.Signer to jose.OpaqueSigner.
type opaque struct {
	s    crypto.Signer
	pub  *jose.JSONWebKey
	algs []jose.SignatureAlgorithm
}

var _ jose.OpaqueSigner = (*opaque)(nil)

func (o *opaque) Public() *jose.JSONWebKey        { return o.pub }
func (o *opaque) Algs() []jose.SignatureAlgorithm { return o.algs }

func (o *opaque) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg != o.algs[0] {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
	}
	switch alg {
	case EdDSA:
		return o.s.Sign(rand.Reader, payload, crypto.Hash(0))
	case RS256:
		d := sha256.Sum256(payload)
		return o.s.Sign(rand.Reader, d[:], crypto.SHA256)
	case ES256:
		d := sha256.Sum256(payload)
		der, err := o.s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		var sig struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("keys: malformed ECDSA signature")
		}
		out := make([]byte, 64)
		sig.R.FillBytes(out[:32])
		sig.S.FillBytes(out[32:])
		return out, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
}

// encodeKey returns the stored form of a new private key: kid, public JWK
// JSON and the sealed PKCS #8 DER.
func encodeKey(s crypto.Signer, alg jose.SignatureAlgorithm, kek KEK) (pub jose.JSONWebKey, pubJSON, sealed []byte, err error) {
	pub, err = publicJWK(s, alg)
	if err != nil {
		return pub, nil, nil, err
	}
	if pubJSON, err = pub.MarshalJSON(); err != nil {
		return pub, nil, nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(s)
	if err != nil {
		return pub, nil, nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	sealed, err = Seal(kek, pub.KeyID, der)
	return pub, pubJSON, sealed, err
}

// decodePublic parses a stored public JWK and checks it against kid and alg.
func decodePublic(kid, alg string, pubJSON []byte) (jose.JSONWebKey, error) {
	var pub jose.JSONWebKey
	if err := pub.UnmarshalJSON(pubJSON); err != nil {
		return pub, fmt.Errorf("%w %q: public JWK: %w", ErrInvalidKey, kid, err)
	}
	if !pub.IsPublic() || pub.KeyID != kid || pub.Algorithm != alg {
		return pub, fmt.Errorf("%w %q: public JWK does not match its row", ErrInvalidKey, kid)
	}
	return pub, nil
}

// decodePrivate opens a sealed private key and checks that it matches pub.
func decodePrivate(keks []KEK, pub jose.JSONWebKey, sealed []byte) (crypto.Signer, error) {
	der, err := Open(keks, pub.KeyID, sealed)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidKey, pub.KeyID, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w %q: not a signing key", ErrInvalidKey, pub.KeyID)
	}
	got, err := publicJWK(s, jose.SignatureAlgorithm(pub.Algorithm))
	if err != nil || got.KeyID != pub.KeyID {
		return nil, fmt.Errorf("%w %q: private key does not match kid", ErrInvalidKey, pub.KeyID)
	}
	return s, nil
}
