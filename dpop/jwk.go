package dpop

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// This file is the proof's hot path: reading the header's jwk, computing
// its RFC 7638 thumbprint and checking the signature without a general JOSE
// library. go-jose did the same work at about 1.6 times the cost of the
// signature check itself (docs/PERFORMANCE.md); FuzzDifferential checks this
// code against go-jose.

// rawJWK holds the members of a JWK that a proof's key may use (RFC 7518
// §6, RFC 8037 §2), and the private ones it must not have.
type rawJWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`

	D   json.RawMessage `json:"d"`
	P   json.RawMessage `json:"p"`
	Q   json.RawMessage `json:"q"`
	DP  json.RawMessage `json:"dp"`
	DQ  json.RawMessage `json:"dq"`
	QI  json.RawMessage `json:"qi"`
	Oth json.RawMessage `json:"oth"`
	K   json.RawMessage `json:"k"`
}

var errPrivateJWK = errors.New("the jwk carries private or symmetric key material")

// publicKey returns the public key a JWK describes and its RFC 7638
// SHA-256 thumbprint. errPrivateJWK marks RFC 9449 §4.3 (7) failures.
func (k *rawJWK) publicKey() (crypto.PublicKey, string, error) {
	if k.D != nil || k.P != nil || k.Q != nil || k.DP != nil || k.DQ != nil ||
		k.QI != nil || k.Oth != nil || k.K != nil || k.Kty == "oct" {
		return nil, "", errPrivateJWK
	}
	var canonical string
	var pub crypto.PublicKey
	switch k.Kty {
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, "", fmt.Errorf("unsupported EC curve %q", clip(k.Crv))
		}
		size := (curve.Params().BitSize + 7) / 8
		x, errX := base64.RawURLEncoding.DecodeString(k.X)
		y, errY := base64.RawURLEncoding.DecodeString(k.Y)
		// RFC 7518 §6.2.1.2: x and y are the full-length coordinates.
		if errX != nil || errY != nil || len(x) != size || len(y) != size {
			return nil, "", fmt.Errorf("the EC jwk's x and y must be %d-byte base64url values", size)
		}
		point := make([]byte, 1+2*size)
		point[0] = 4
		copy(point[1:], x)
		copy(point[1+size:], y)
		ec, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, "", fmt.Errorf("the EC jwk is not a point on %s", k.Crv)
		}
		pub = ec
		// RFC 7638 §3.2: required members, lexicographic order, no spaces.
		canonical = `{"crv":"` + k.Crv + `","kty":"EC","x":"` + b64(x) + `","y":"` + b64(y) + `"}`
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, "", fmt.Errorf("unsupported OKP curve %q", clip(k.Crv))
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, "", fmt.Errorf("the Ed25519 jwk's x must be a 32-byte base64url value")
		}
		pub = ed25519.PublicKey(x)
		canonical = `{"crv":"Ed25519","kty":"OKP","x":"` + b64(x) + `"}`
	case "RSA":
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if errN != nil || errE != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 || n[0] == 0 {
			return nil, "", fmt.Errorf("the RSA jwk's n and e are not valid base64url integers")
		}
		exp := 0
		for _, c := range e {
			exp = exp<<8 | int(c)
		}
		if exp < 3 || exp&1 == 0 {
			return nil, "", fmt.Errorf("the RSA jwk's exponent is not usable")
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
		canonical = `{"e":"` + b64(big.NewInt(int64(exp)).Bytes()) + `","kty":"RSA","n":"` + b64(n) + `"}`
	default:
		return nil, "", fmt.Errorf("unsupported key type %q", clip(k.Kty))
	}
	sum := sha256.Sum256([]byte(canonical))
	return pub, b64(sum[:]), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// verifySignature checks a JWS signature over signingInput (RFC 7515 §5.2)
// for alg, whose fit with pub the caller has checked.
func verifySignature(pub crypto.PublicKey, alg string, signingInput, sig []byte) bool {
	switch alg {
	case ES256, ES384, ES512:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return false
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		// RFC 7518 §3.4: R and S as fixed-length big-endian octets.
		if len(sig) != 2*size {
			return false
		}
		var digest []byte
		switch alg {
		case ES256:
			d := sha256.Sum256(signingInput)
			digest = d[:]
		case ES384:
			d := sha512.Sum384(signingInput)
			digest = d[:]
		default:
			d := sha512.Sum512(signingInput)
			digest = d[:]
		}
		der, ok := asn1Signature(sig[:size], sig[size:])
		return ok && ecdsa.VerifyASN1(k, digest, der)
	case EdDSA, Ed25519:
		k, ok := pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(k, signingInput, sig)
	case RS256, RS384, RS512, PS256, PS384, PS512:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return false
		}
		var h crypto.Hash
		switch alg {
		case RS256, PS256:
			h = crypto.SHA256
		case RS384, PS384:
			h = crypto.SHA384
		default:
			h = crypto.SHA512
		}
		hh := h.New()
		hh.Write(signingInput)
		digest := hh.Sum(nil)
		if alg[0] == 'R' {
			return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
		}
		// RFC 7518 §3.5: the salt is as long as the hash.
		return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	}
	return false
}

// asn1Signature encodes fixed-length (r, s) as the DER ECDSA-Sig-Value that
// crypto/ecdsa verifies (RFC 5480 §2.2.3: a SEQUENCE of two positive
// INTEGERs, minimal, with a 0x00 byte before a high bit). Zero values are
// refused. Written out by hand, one allocation: it runs for every proof.
func asn1Signature(r, s []byte) ([]byte, bool) {
	r, s = bytes.TrimLeft(r, "\x00"), bytes.TrimLeft(s, "\x00")
	if len(r) == 0 || len(s) == 0 || len(r) > 66 || len(s) > 66 {
		return nil, false
	}
	content := 2 + intLen(r) + 2 + intLen(s) // at most 138 (P-521)
	der := make([]byte, 0, 3+content)
	der = append(der, 0x30) // SEQUENCE
	if content < 0x80 {
		der = append(der, byte(content))
	} else {
		der = append(der, 0x81, byte(content))
	}
	return appendInt(appendInt(der, r), s), true
}

func intLen(v []byte) int {
	if v[0]&0x80 != 0 {
		return len(v) + 1
	}
	return len(v)
}

func appendInt(der, v []byte) []byte {
	der = append(der, 0x02, byte(intLen(v))) // INTEGER
	if v[0]&0x80 != 0 {
		der = append(der, 0)
	}
	return append(der, v...)
}
