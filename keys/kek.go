package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnvKEK is the environment variable holding the base64 KEK.
const EnvKEK = "WARD_KEY_ENCRYPTION_KEY"

// KEK is a 256-bit AES key-encryption key.
type KEK [32]byte

// ParseKEK decodes a KEK from base64 (standard or URL alphabet, padded or
// not); surrounding white space is ignored.
func ParseKEK(s string) (KEK, error) {
	var k KEK
	s = strings.TrimSpace(s)
	var b []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return k, fmt.Errorf("%w: not base64 (make one with: head -c 32 /dev/urandom | base64)", ErrInvalidKEK)
	}
	if len(b) != len(k) {
		return k, fmt.Errorf("%w: %d bytes, want 32 (make one with: head -c 32 /dev/urandom | base64)", ErrInvalidKEK, len(b))
	}
	copy(k[:], b)
	return k, nil
}

// String returns the KEK in standard base64, the form ParseKEK reads.
func (k KEK) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// LoadKEK returns the KEK from envValue (the value of WARD_KEY_ENCRYPTION_KEY)
// when it is not empty, otherwise from the file at filePath (base64 text).
// It returns ErrNoKEK when both are empty.
func LoadKEK(envValue, filePath string) (KEK, error) {
	if envValue != "" {
		k, err := ParseKEK(envValue)
		if err != nil {
			return k, fmt.Errorf("%s: %w", EnvKEK, err)
		}
		return k, nil
	}
	if filePath == "" {
		return KEK{}, ErrNoKEK
	}
	b, err := os.ReadFile(filePath)
	if err != nil {
		return KEK{}, fmt.Errorf("keys: reading KEK file: %w", err)
	}
	k, err := ParseKEK(string(b))
	if err != nil {
		return k, fmt.Errorf("%s: %w", filePath, err)
	}
	return k, nil
}

// EnsureKEKFile reads the KEK at path, or, when the file does not exist,
// generates a random KEK and writes it there with mode 0600 (creating the
// parent folder with mode 0700). It never overwrites an existing file.
func EnsureKEKFile(path string) (KEK, error) {
	k, err := LoadKEK("", path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if _, err := io.ReadFull(rand.Reader, k[:]); err != nil {
		return KEK{}, fmt.Errorf("keys: generating KEK: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return KEK{}, fmt.Errorf("keys: creating KEK folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // created concurrently: use that one
		return LoadKEK("", path)
	}
	if err != nil {
		return KEK{}, fmt.Errorf("keys: creating KEK file: %w", err)
	}
	_, werr := f.WriteString(k.String() + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return KEK{}, fmt.Errorf("keys: writing KEK file: %w", werr)
	}
	return k, nil
}

// sealVersion prefixes every ciphertext so the format can change later.
const sealVersion = 1

func aad(kid string) []byte { return []byte("ward signing key v1\x00" + kid) }

func gcm(k *KEK) cipher.AEAD {
	b, err := aes.NewCipher(k[:])
	if err != nil {
		panic(err) // unreachable: the key is always 32 bytes
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return a
}

// Seal encrypts plaintext under kek, bound to kid: version ‖ nonce ‖ ciphertext.
func Seal(kek KEK, kid string, plaintext []byte) ([]byte, error) {
	a := gcm(&kek)
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plaintext)+a.Overhead())
	out[0] = sealVersion
	if _, err := io.ReadFull(rand.Reader, out[1:]); err != nil {
		return nil, fmt.Errorf("keys: nonce: %w", err)
	}
	return a.Seal(out, out[1:], plaintext, aad(kid)), nil
}

// Open decrypts a ciphertext made by Seal for kid, trying each KEK in turn.
// Failure returns an error wrapping ErrDecrypt that names the kid.
func Open(keks []KEK, kid string, sealed []byte) ([]byte, error) {
	if len(keks) == 0 {
		return nil, fmt.Errorf("%w %q: %w", ErrDecrypt, kid, ErrNoKEK)
	}
	const ns = 12
	if len(sealed) < 1+ns || sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w %q: malformed ciphertext", ErrDecrypt, kid)
	}
	for i := range keks {
		a := gcm(&keks[i])
		if pt, err := a.Open(nil, sealed[1:1+ns], sealed[1+ns:], aad(kid)); err == nil {
			return pt, nil
		}
	}
	return nil, fmt.Errorf("%w %q: wrong key-encryption key or tampered ciphertext", ErrDecrypt, kid)
}
