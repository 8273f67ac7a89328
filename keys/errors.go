package keys

import "errors"

// Sentinel errors, wrapped with %w by the functions of this package.
var (
	// ErrDecrypt: a private key could not be decrypted (wrong KEK,
	// tampered ciphertext, or a ciphertext moved to another kid).
	ErrDecrypt = errors.New("keys: cannot decrypt private key")
	// ErrInvalidKEK: a key-encryption key is malformed.
	ErrInvalidKEK = errors.New("keys: invalid key-encryption key")
	// ErrNoKEK: neither the environment variable nor a file provided a KEK.
	ErrNoKEK = errors.New("keys: no key-encryption key configured")
	// ErrNoSigningKey: no key is active at the given time.
	ErrNoSigningKey = errors.New("keys: no active signing key")
	// ErrUnsupportedAlgorithm: the algorithm is not ES256 or EdDSA.
	ErrUnsupportedAlgorithm = errors.New("keys: unsupported algorithm")
	// ErrInvalidKey: a stored key is malformed or inconsistent with its kid.
	ErrInvalidKey = errors.New("keys: invalid stored key")
)
