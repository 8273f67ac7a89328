package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// NonceSource issues and checks server nonces (RFC 9449 §8).
type NonceSource interface {
	// Nonce returns a nonce valid from now on.
	Nonce(now time.Time) (string, error)
	// Check reports whether nonce is one this source issued and is still
	// fresh at now.
	Check(nonce string, now time.Time) bool
}

// ErrNonceKey is returned by NewStatelessNonces for an unusable key.
var ErrNonceKey = errors.New("dpop: nonce key must be at least 32 bytes")

const (
	nonceVersion = 1
	nonceMACLen  = 16
	nonceLen     = 1 + 4 + 8 + nonceMACLen // version, key id, step, MAC
)

// StatelessNonces is a NonceSource that needs no shared storage: a nonce is
// a time step sealed with HMAC-SHA-256 under a secret key, so every instance
// holding the key can check every nonce. A nonce is accepted in the step it
// was issued in and the next one, so it lives between one and two steps.
// Several keys may be given for rotation: the first issues, all verify.
type StatelessNonces struct {
	step    time.Duration
	context []byte
	keys    []nonceKey
}

type nonceKey struct {
	id  [4]byte
	key []byte
}

var _ NonceSource = (*StatelessNonces)(nil)

// NewStatelessNonces returns a nonce source. context names the server (for
// example its issuer or resource URL) so that a nonce from another server
// that happens to share the key is refused. step is the time step (default
// one minute). Each key must have at least 32 bytes.
func NewStatelessNonces(context string, step time.Duration, keys ...[]byte) (*StatelessNonces, error) {
	if len(keys) == 0 {
		return nil, ErrNonceKey
	}
	if step <= 0 {
		step = time.Minute
	}
	s := &StatelessNonces{step: step, context: []byte(context)}
	for _, k := range keys {
		if len(k) < 32 {
			return nil, ErrNonceKey
		}
		m := hmac.New(sha256.New, k)
		m.Write([]byte("ward dpop nonce key id"))
		var nk nonceKey
		copy(nk.id[:], m.Sum(nil))
		nk.key = append([]byte(nil), k...)
		s.keys = append(s.keys, nk)
	}
	return s, nil
}

func (s *StatelessNonces) mac(k []byte, step uint64) []byte {
	m := hmac.New(sha256.New, k)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], step)
	m.Write(s.context)
	m.Write([]byte{0})
	m.Write(b[:])
	return m.Sum(nil)[:nonceMACLen]
}

func (s *StatelessNonces) stepOf(t time.Time) uint64 {
	return uint64(t.UnixNano() / int64(s.step))
}

// Nonce implements NonceSource.
func (s *StatelessNonces) Nonce(now time.Time) (string, error) {
	k := s.keys[0]
	step := s.stepOf(now)
	var b [nonceLen]byte
	b[0] = nonceVersion
	copy(b[1:5], k.id[:])
	binary.BigEndian.PutUint64(b[5:13], step)
	copy(b[13:], s.mac(k.key, step))
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Check implements NonceSource.
func (s *StatelessNonces) Check(nonce string, now time.Time) bool {
	if len(nonce) != base64.RawURLEncoding.EncodedLen(nonceLen) {
		return false
	}
	var b [nonceLen]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(nonce)); err != nil || n != nonceLen {
		return false
	}
	if b[0] != nonceVersion {
		return false
	}
	step := binary.BigEndian.Uint64(b[5:13])
	cur := s.stepOf(now)
	if step != cur && step+1 != cur {
		return false
	}
	for _, k := range s.keys {
		if [4]byte(b[1:5]) == k.id {
			return hmac.Equal(b[13:], s.mac(k.key, step))
		}
	}
	return false
}

// String describes the source without its keys.
func (s *StatelessNonces) String() string {
	return fmt.Sprintf("StatelessNonces(step=%s, keys=%d)", s.step, len(s.keys))
}
