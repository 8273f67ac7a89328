// Package jws makes compact JWS (RFC 7515 §7.1) with any crypto.Signer:
// the one signer of Ward's access tokens (package authz) and DPoP proofs
// (package dpop). It signs with the signer directly, without the generic
// JOSE machinery, because both are on hot paths; its tests check every
// output with go-jose. It imports nothing of Ward, so the protocol
// packages may use it.
package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Errors of Sign.
var (
	// ErrUnsupportedAlgorithm: the algorithm is not one of ES256, ES384,
	// ES512, EdDSA, RS256, RS384, RS512, PS256, PS384, PS512, or the key
	// cannot make it.
	ErrUnsupportedAlgorithm = errors.New("jws: unsupported signature algorithm")
	// ErrMalformedSignature: the crypto.Signer returned an ECDSA
	// signature that is not a DER SEQUENCE of two positive INTEGERs that
	// fit the curve.
	ErrMalformedSignature = errors.New("jws: signer returned a malformed ECDSA signature")
)

var b64 = base64.RawURLEncoding

// EncodeHeader returns the base64url of header's JSON: the first part of
// the compact serialization, to pass to Sign. A caller that signs many
// times with one header encodes it once.
func EncodeHeader(header any) (string, error) {
	raw, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("jws: header: %w", err)
	}
	return b64.EncodeToString(raw), nil
}

// Sign returns header "." base64url(payload) "." base64url(signature),
// the signature made by key with alg over the first two parts (RFC 7515
// §5.1). header is EncodeHeader's result.
func Sign(key crypto.Signer, alg, header string, payload []byte) (string, error) {
	// The signature is at most 132 bytes (176 characters) for ECDSA and
	// EdDSA; RSA's longer ones grow the buffer once.
	buf := make([]byte, 0, len(header)+1+b64.EncodedLen(len(payload))+1+176)
	buf = append(buf, header...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	sig, err := Signature(key, alg, buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}

// Signature signs input with key as alg requires (RFC 7518 §3): ECDSA as
// fixed-length R || S (§3.4), RSASSA-PSS with a salt as long as the hash
// (§3.5), RSASSA-PKCS1-v1_5 (§3.3), Ed25519 over the message itself
// (RFC 8037 §3.1).
func Signature(key crypto.Signer, alg string, input []byte) ([]byte, error) {
	var h crypto.Hash
	switch alg {
	case "EdDSA":
		return key.Sign(rand.Reader, input, crypto.Hash(0))
	case "ES256", "RS256", "PS256":
		h = crypto.SHA256
	case "ES384", "RS384", "PS384":
		h = crypto.SHA384
	case "ES512", "RS512", "PS512":
		h = crypto.SHA512
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
	}
	hh := h.New()
	hh.Write(input)
	digest := hh.Sum(nil)
	switch alg[0] {
	case 'P':
		return key.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
	case 'R':
		return key.Sign(rand.Reader, digest, h)
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s needs an ECDSA key", ErrUnsupportedAlgorithm, alg)
	}
	der, err := key.Sign(rand.Reader, digest, h)
	if err != nil {
		return nil, fmt.Errorf("jws: sign: %w", err)
	}
	return derToRaw(der, (pub.Curve.Params().BitSize+7)/8)
}

// derToRaw converts an ASN.1 DER ECDSA signature, as crypto.Signer
// returns it, to the fixed-size R || S of JWS (RFC 7518 §3.4).
func derToRaw(der []byte, size int) ([]byte, error) {
	var r, s []byte
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) || !seq.Empty() {
		return nil, ErrMalformedSignature
	}
	// ReadASN1Integer into []byte refuses negative values and returns
	// the big-endian magnitude without leading zeros. Zero is never a
	// valid r or s (FIPS 186-5 §6.4.1).
	if len(r) > size || len(s) > size || isZero(r) || isZero(s) {
		return nil, ErrMalformedSignature
	}
	out := make([]byte, 2*size)
	copy(out[size-len(r):size], r)
	copy(out[2*size-len(s):], s)
	return out, nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
