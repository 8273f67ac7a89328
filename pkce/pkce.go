package pkce

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
)

// MethodS256 is the only code_challenge_method this package accepts.
const MethodS256 = "S256"

// Lengths from RFC 7636 §4.1 (verifier) and §4.2 (S256 challenge: the
// unpadded base64url encoding of a 32-byte SHA-256 digest).
const (
	MinVerifierLen = 43
	MaxVerifierLen = 128
	ChallengeLen   = 43
)

// Sentinel errors.
var (
	// ErrMissingChallenge: the authorization request carries no
	// code_challenge (PKCE is mandatory).
	ErrMissingChallenge = errors.New("pkce: missing code_challenge")
	// ErrPlainMethod: code_challenge_method is "plain" or absent (RFC 7636
	// §4.3 makes "plain" the default; Ward refuses it).
	ErrPlainMethod = errors.New("pkce: code_challenge_method must be S256")
	// ErrUnsupportedMethod: code_challenge_method is neither S256 nor plain.
	ErrUnsupportedMethod = errors.New("pkce: unsupported code_challenge_method")
	// ErrMalformed: a verifier or challenge does not have the syntax RFC 7636
	// §4.1 or §4.2 requires.
	ErrMalformed = errors.New("pkce: malformed")
	// ErrMismatch: the verifier does not hash to the challenge.
	ErrMismatch = errors.New("pkce: code_verifier does not match code_challenge")
)

// NewVerifier returns a code_verifier made of 32 random bytes encoded as 43
// base64url characters, as RFC 7636 §4.1 recommends.
func NewVerifier() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("pkce: generate verifier: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Challenge returns the S256 code_challenge of verifier:
// BASE64URL(SHA256(ASCII(verifier))), RFC 7636 §4.2. It does not check the
// verifier's syntax.
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ValidateChallenge checks the code_challenge and code_challenge_method
// parameters of an authorization request: the method must be S256 and the
// challenge 43 base64url characters without padding.
func ValidateChallenge(challenge, method string) error {
	switch method {
	case MethodS256:
	case "", "plain":
		return fmt.Errorf("%w (got %q)", ErrPlainMethod, method)
	default:
		return fmt.Errorf("%w %q", ErrUnsupportedMethod, method)
	}
	if challenge == "" {
		return ErrMissingChallenge
	}
	return checkChallenge(challenge)
}

// Verify checks a code_verifier against the stored S256 code_challenge
// (RFC 7636 §4.6). The comparison is in constant time.
func Verify(verifier, challenge string) error {
	if err := checkVerifier(verifier); err != nil {
		return err
	}
	if challenge == "" {
		return ErrMissingChallenge
	}
	if err := checkChallenge(challenge); err != nil {
		return err
	}
	got := Challenge(verifier)
	if subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) != 1 {
		return ErrMismatch
	}
	return nil
}

// checkVerifier enforces RFC 7636 §4.1:
// code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
func checkVerifier(v string) error {
	if len(v) < MinVerifierLen || len(v) > MaxVerifierLen {
		return fmt.Errorf("%w code_verifier: length %d, want %d to %d", ErrMalformed, len(v), MinVerifierLen, MaxVerifierLen)
	}
	for i := 0; i < len(v); i++ {
		if !unreserved(v[i]) {
			return fmt.Errorf("%w code_verifier: invalid character at offset %d", ErrMalformed, i)
		}
	}
	return nil
}

// checkChallenge enforces the shape of an S256 challenge: exactly 43
// characters of the base64url alphabet, no padding, decoding to 32 bytes
// with canonical trailing bits.
func checkChallenge(c string) error {
	if len(c) != ChallengeLen {
		return fmt.Errorf("%w code_challenge: length %d, want %d", ErrMalformed, len(c), ChallengeLen)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil || len(b) != sha256.Size {
		return fmt.Errorf("%w code_challenge: not unpadded base64url of 32 bytes", ErrMalformed)
	}
	return nil
}

func unreserved(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '.', c == '_', c == '~':
		return true
	}
	return false
}
