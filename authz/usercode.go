package authz

import (
	"crypto/rand"
	"math/big"
	"strings"
)

// User codes (RFC 8628 §6.1): 8 characters from 20 consonants, shown as
// XXXX-XXXX. No vowels (no words), no look-alikes (0/O, 1/I/L, 5/S are
// not all in the set: there are no digits and no vowels at all), upper
// case for reading out. 20^8 ≈ 2.56e10 codes, about 34.6 bits: enough
// only because guessing is throttled (docs/DEVICE.md gives the bound).
const (
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLen      = 8
	// maxUserCodeInput bounds what the normaliser reads: a code with
	// separators and spaces fits many times over.
	maxUserCodeInput = 64
)

// newUserCode draws a user code with crypto/rand, without modulo bias.
func newUserCode() string {
	var b strings.Builder
	n := big.NewInt(int64(len(userCodeAlphabet)))
	for range userCodeLen {
		i, err := rand.Int(rand.Reader, n)
		if err != nil {
			panic("authz: crypto/rand failed: " + err.Error()) // unreachable since Go 1.24
		}
		b.WriteByte(userCodeAlphabet[i.Int64()])
	}
	return b.String()
}

// formatUserCode shows a normalised code as XXXX-XXXX.
func formatUserCode(code string) string {
	if len(code) != userCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// normalizeUserCode is the code a person typed, in the canonical form it
// is stored under (RFC 8628 §6.1: case-insensitive, and punctuation and
// spaces the user adds are ignored): ASCII letters upper-cased, '-', ' '
// and tabs dropped. ok is false when anything else is left, a letter
// outside the alphabet, or not exactly 8 letters — such input costs no
// store read, yet counts as a failed attempt like any wrong code.
func normalizeUserCode(in string) (string, bool) {
	if len(in) > maxUserCodeInput {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '-' || c == ' ' || c == '\t':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		if strings.IndexByte(userCodeAlphabet, c) < 0 {
			return "", false
		}
		if b.Len() == userCodeLen {
			return "", false
		}
		b.WriteByte(c)
	}
	if b.Len() != userCodeLen {
		return "", false
	}
	return b.String(), true
}

// userCodeHash is the key a user code is stored under. The code's few
// bits make the hash no secret to whoever reads the database; it keeps
// the code out of the table's plain text and its index uniform.
func userCodeHash(code string) []byte {
	return hashToken("ward user code\x00" + code)
}
