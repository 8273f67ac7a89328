package bff

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// session is what the server keeps for one logged-in browser. It never
// leaves the server: the browser holds only the random id in its cookie.
type session struct {
	Subject      string    `json:"sub"`
	Username     string    `json:"username,omitempty"` // RFC 7662 §2.2, when told
	Scope        string    `json:"scope,omitempty"`
	AccessToken  string    `json:"at"`
	RefreshToken string    `json:"rt,omitempty"`
	Expiry       time.Time `json:"exp"` // of the access token
	Key          []byte    `json:"key"` // the session's DPoP key, PKCS#8
	Created      time.Time `json:"created"`
	LastSeen     time.Time `json:"seen"`
	GrantChecked time.Time `json:"checked"` // last introspection of the refresh token
	// OpenID Connect (scope openid): the verified ID token, kept as the
	// id_token_hint of the logout, and the user's claims from it.
	IDToken string     `json:"idt,omitempty"`
	User    *userNames `json:"user,omitempty"`
}

// userNames are the claims of the ID token /bff/user shows.
type userNames struct {
	Name              string `json:"name,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Email             string `json:"email,omitempty"`
}

// flow is a login in progress, between /login and /callback.
type flow struct {
	State    string    `json:"state"`
	Verifier string    `json:"verifier"`
	ReturnTo string    `json:"return_to"`
	Key      []byte    `json:"key"`
	Created  time.Time `json:"created"`
	// Nonce of the OpenID Connect request, which the ID token must carry.
	Nonce  string        `json:"nonce,omitempty"`
	MaxAge time.Duration `json:"max_age,omitempty"`
}

// sealer encrypts the store's values with AES-256-GCM; the additional
// data binds each value to its key, so one cannot be moved under another.
type sealer struct{ aead cipher.AEAD }

// ErrSealed: a stored value does not open with the site's key (a key
// change, or tampering in the store).
var ErrSealed = errors.New("bff: sealed value does not open")

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("bff: session key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(storeKey string, v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(storeKey)), nil
}

func (s *sealer) open(storeKey string, b []byte, v any) error {
	n := s.aead.NonceSize()
	if len(b) < n+s.aead.Overhead() {
		return ErrSealed
	}
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(storeKey))
	if err != nil {
		return ErrSealed
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("%w: %v", ErrSealed, err)
	}
	return nil
}

// newID returns a random 256-bit id for a cookie.
func newID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// validID reports whether v has the shape of an id newID makes, so that
// arbitrary cookie values never reach the store.
func validID(v string) bool {
	if len(v) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(v)
	return err == nil && len(b) == 32
}

// storeKey is the store's key for a cookie id: its SHA-256, so the store
// never holds a value a browser could present.
func storeKey(kind, id string) string {
	h := sha256.Sum256([]byte(id))
	return kind + ":" + base64.RawURLEncoding.EncodeToString(h[:])
}

func marshalKey(k *ecdsa.PrivateKey) ([]byte, error) { return x509.MarshalPKCS8PrivateKey(k) }

func parseKey(b []byte) (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(b)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("bff: session key is not ECDSA")
	}
	return ek, nil
}
