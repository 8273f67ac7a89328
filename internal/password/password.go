package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Sentinel errors.
var (
	// ErrMalformed: the encoded hash is not a PHC argon2id string this
	// package can read.
	ErrMalformed = errors.New("password: malformed hash")
	// ErrParams: the parameters are outside the accepted bounds.
	ErrParams = errors.New("password: parameters out of bounds")
)

// Params are argon2id cost parameters.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32 // bytes
	KeyLen      uint32 // bytes
}

// DefaultParams is the OWASP Password Storage Cheat Sheet recommendation for
// argon2id: m=19456 KiB (19 MiB), t=2, p=1, with a 16-byte salt and a
// 32-byte hash.
var DefaultParams = Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// Bounds accepted when hashing and when parsing a stored hash. They keep a
// hostile value from costing more than 256 MiB or a few seconds.
const (
	MinMemory      = 8 * 1024   // KiB
	MaxMemory      = 256 * 1024 // KiB
	MinIterations  = 1
	MaxIterations  = 16
	MinParallelism = 1
	MaxParallelism = 16
	MinSaltLen     = 8
	MaxSaltLen     = 64
	MinKeyLen      = 16
	MaxKeyLen      = 64
)

const prefix = "$argon2id$v=19$"

// Validate reports whether p is within the accepted bounds.
func (p Params) Validate() error {
	switch {
	case p.Memory < MinMemory || p.Memory > MaxMemory:
		return fmt.Errorf("%w: m=%d, want %d..%d", ErrParams, p.Memory, MinMemory, MaxMemory)
	case p.Memory < 8*uint32(p.Parallelism):
		return fmt.Errorf("%w: m=%d below 8*p", ErrParams, p.Memory)
	case p.Iterations < MinIterations || p.Iterations > MaxIterations:
		return fmt.Errorf("%w: t=%d, want %d..%d", ErrParams, p.Iterations, MinIterations, MaxIterations)
	case p.Parallelism < MinParallelism || p.Parallelism > MaxParallelism:
		return fmt.Errorf("%w: p=%d, want %d..%d", ErrParams, p.Parallelism, MinParallelism, MaxParallelism)
	case p.SaltLen < MinSaltLen || p.SaltLen > MaxSaltLen:
		return fmt.Errorf("%w: salt length %d, want %d..%d", ErrParams, p.SaltLen, MinSaltLen, MaxSaltLen)
	case p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen:
		return fmt.Errorf("%w: hash length %d, want %d..%d", ErrParams, p.KeyLen, MinKeyLen, MaxKeyLen)
	}
	return nil
}

// Hash hashes password with [DefaultParams] and a random salt and returns
// the PHC-encoded result.
func Hash(password string) (string, error) {
	return HashWith(password, DefaultParams)
}

// HashWith is [Hash] with explicit parameters.
func HashWith(password string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	return encode(p, salt, key), nil
}

func encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("%sm=%d,t=%d,p=%d$%s$%s", prefix, p.Memory, p.Iterations, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches the encoded hash. It returns an
// error wrapping [ErrMalformed] or [ErrParams] when encoded cannot be read;
// a wrong password is (false, nil). The hashes are compared in constant
// time.
func Verify(password, encoded string) (bool, error) {
	p, salt, key, err := Parse(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than
// [DefaultParams] (or cannot be parsed), so the caller should store a fresh
// hash after the next successful login.
func NeedsRehash(encoded string) bool {
	p, _, _, err := Parse(encoded)
	return err != nil || p != DefaultParams
}

// Parse decodes a PHC argon2id string strictly: the exact prefix
// "$argon2id$v=19$", the parameters in the order m, t, p with canonical
// decimal numbers, and unpadded canonical base64 salt and hash, all within
// the package's bounds.
func Parse(encoded string) (p Params, salt, key []byte, err error) {
	rest, ok := strings.CutPrefix(encoded, prefix)
	if !ok {
		return Params{}, nil, nil, fmt.Errorf("%w: want prefix %q", ErrMalformed, prefix)
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return Params{}, nil, nil, fmt.Errorf("%w: want params$salt$hash", ErrMalformed)
	}
	kv := strings.Split(parts[0], ",")
	if len(kv) != 3 {
		return Params{}, nil, nil, fmt.Errorf("%w: want m=,t=,p=", ErrMalformed)
	}
	var vals [3]uint32
	for i, name := range []string{"m=", "t=", "p="} {
		s, ok := strings.CutPrefix(kv[i], name)
		if !ok {
			return Params{}, nil, nil, fmt.Errorf("%w: parameter %d: want %q", ErrMalformed, i+1, name)
		}
		if vals[i], err = parseUint(s); err != nil {
			return Params{}, nil, nil, fmt.Errorf("%w: %s%q", ErrMalformed, name, s)
		}
	}
	if vals[2] > MaxParallelism {
		return Params{}, nil, nil, fmt.Errorf("%w: p=%d, want %d..%d", ErrParams, vals[2], MinParallelism, MaxParallelism)
	}
	b64 := base64.RawStdEncoding.Strict()
	// Bound the lengths before decoding, so a huge value is not decoded.
	if len(parts[1]) > b64.EncodedLen(MaxSaltLen) || len(parts[2]) > b64.EncodedLen(MaxKeyLen) {
		return Params{}, nil, nil, fmt.Errorf("%w: salt or hash too long", ErrParams)
	}
	if salt, err = b64.DecodeString(parts[1]); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: salt: %v", ErrMalformed, err)
	}
	if key, err = b64.DecodeString(parts[2]); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: hash: %v", ErrMalformed, err)
	}
	// The decoder skips CR and LF; only the canonical text is accepted.
	if b64.EncodeToString(salt) != parts[1] || b64.EncodeToString(key) != parts[2] {
		return Params{}, nil, nil, fmt.Errorf("%w: salt or hash is not canonical base64", ErrMalformed)
	}
	p = Params{Memory: vals[0], Iterations: vals[1], Parallelism: uint8(vals[2]),
		SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := p.Validate(); err != nil {
		return Params{}, nil, nil, err
	}
	return p, salt, key, nil
}

// parseUint accepts only canonical decimal: no sign, no leading zero, at
// most 10 digits.
func parseUint(s string) (uint32, error) {
	if s == "" || len(s) > 10 || (s[0] == '0' && len(s) > 1) {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

var (
	dummyOnce    sync.Once
	dummyEncoded string
)

// DummyVerify spends the time of a [Verify] with [DefaultParams] and always
// returns false. Call it when the username is unknown, so that the response
// time does not tell an attacker whether the account exists.
func DummyVerify(password string) bool {
	dummyOnce.Do(func() {
		// A hash of a random password that nobody knows.
		var b [32]byte
		_, _ = rand.Read(b[:])
		enc, err := Hash(base64.RawStdEncoding.EncodeToString(b[:]))
		if err != nil {
			panic("password: dummy hash: " + err.Error())
		}
		dummyEncoded = enc
	})
	_, _ = Verify(password, dummyEncoded)
	return false
}
