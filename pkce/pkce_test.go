package pkce

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// RFC 7636 Appendix B: example for the S256 code_challenge_method. (Some
// secondary sources misquote the challenge; this is the RFC's value, and
// rfcDigest below is the SHA-256 octet list printed in the same appendix.)
var rfcDigest = []byte{19, 211, 30, 150, 26, 26, 216, 236, 47, 22, 177, 12, 76, 152, 46, 8,
	118, 168, 120, 173, 109, 241, 68, 86, 110, 225, 137, 74, 203, 112, 249, 195}

const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestChallengeRFC7636AppendixB(t *testing.T) {
	if got := Challenge(rfcVerifier); got != rfcChallenge {
		t.Fatalf("Challenge(%q) = %q, want %q (RFC 7636 Appendix B)", rfcVerifier, got, rfcChallenge)
	}
	if got := base64.RawURLEncoding.EncodeToString(rfcDigest); got != rfcChallenge {
		t.Fatalf("BASE64URL(Appendix B octets) = %q, want %q", got, rfcChallenge)
	}
	if err := Verify(rfcVerifier, rfcChallenge); err != nil {
		t.Fatalf("Verify(Appendix B) = %v", err)
	}
}

func TestVerify(t *testing.T) {
	long := strings.Repeat("a", MaxVerifierLen)
	tests := []struct {
		name      string
		verifier  string
		challenge string
		want      error
	}{
		{"rfc vector", rfcVerifier, rfcChallenge, nil},
		{"max length", long, Challenge(long), nil},
		{"all unreserved", strings.Repeat("aZ09-._~", 6), Challenge(strings.Repeat("aZ09-._~", 6)), nil},
		{"wrong verifier", strings.Repeat("x", 43), rfcChallenge, ErrMismatch},
		{"verifier too short", rfcVerifier[:42], Challenge(rfcVerifier[:42]), ErrMalformed},
		{"verifier too long", long + "a", Challenge(long + "a"), ErrMalformed},
		{"verifier bad char", rfcVerifier[:42] + "+", Challenge(rfcVerifier[:42] + "+"), ErrMalformed},
		{"verifier space", rfcVerifier[:42] + " ", Challenge(rfcVerifier[:42] + " "), ErrMalformed},
		{"verifier non-ascii", rfcVerifier[:41] + "é", Challenge(rfcVerifier[:41] + "é"), ErrMalformed},
		{"empty verifier", "", rfcChallenge, ErrMalformed},
		{"empty challenge", rfcVerifier, "", ErrMissingChallenge},
		{"padded challenge", rfcVerifier, rfcChallenge + "=", ErrMalformed},
		{"std base64 challenge", rfcVerifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", ErrMalformed},
		{"plain challenge (verifier itself)", rfcVerifier, rfcVerifier, ErrMismatch},
		{"non-canonical trailing bits", rfcVerifier, rfcChallenge[:42] + "p", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.verifier, tt.challenge)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestValidateChallenge(t *testing.T) {
	tests := []struct {
		name      string
		challenge string
		method    string
		want      error
	}{
		{"s256", rfcChallenge, "S256", nil},
		{"plain refused", rfcChallenge, "plain", ErrPlainMethod},
		{"absent method refused", rfcChallenge, "", ErrPlainMethod},
		{"lowercase s256", rfcChallenge, "s256", ErrUnsupportedMethod},
		{"unknown method", rfcChallenge, "S512", ErrUnsupportedMethod},
		{"missing challenge", "", "S256", ErrMissingChallenge},
		{"short challenge", rfcChallenge[:42], "S256", ErrMalformed},
		{"long challenge", rfcChallenge + "A", "S256", ErrMalformed},
		{"bad alphabet", strings.Repeat("*", 43), "S256", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateChallenge(tt.challenge, tt.method)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("ValidateChallenge(%q, %q) = %v, want %v", tt.challenge, tt.method, err, tt.want)
			}
		})
	}
}

func TestNewVerifier(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		v, err := NewVerifier()
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != 43 {
			t.Fatalf("len(NewVerifier()) = %d, want 43", len(v))
		}
		if seen[v] {
			t.Fatalf("NewVerifier repeated %q", v)
		}
		seen[v] = true
		c := Challenge(v)
		if err := ValidateChallenge(c, MethodS256); err != nil {
			t.Fatalf("ValidateChallenge(Challenge(%q)) = %v", v, err)
		}
		if err := Verify(v, c); err != nil {
			t.Fatalf("Verify(%q) = %v", v, err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(rfcVerifier, rfcChallenge)
	f.Add(rfcVerifier, rfcVerifier)
	f.Add("", "")
	f.Add(strings.Repeat("~", 128), rfcChallenge+"=")
	f.Fuzz(func(t *testing.T, verifier, challenge string) {
		err := Verify(verifier, challenge)
		if err == nil {
			// Success implies both inputs are well formed and match.
			if checkVerifier(verifier) != nil || Challenge(verifier) != challenge {
				t.Fatalf("Verify(%q, %q) accepted a bad pair", verifier, challenge)
			}
			return
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrMismatch) && !errors.Is(err, ErrMissingChallenge) {
			t.Fatalf("Verify(%q, %q) = %v: not a package sentinel", verifier, challenge, err)
		}
		if checkVerifier(verifier) == nil {
			// A well-formed verifier always verifies against its own challenge.
			if err := Verify(verifier, Challenge(verifier)); err != nil {
				t.Fatalf("Verify(%q, Challenge) = %v", verifier, err)
			}
		}
		_ = ValidateChallenge(challenge, MethodS256)
	})
}
