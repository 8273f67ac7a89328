// Package yardstick is what Ward's benchmarks compare themselves with: a
// bare P-256 signature verification (and signature), the cryptography a
// DPoP-bound request cannot avoid. Measured in the same process as the
// code under test, and interleaved with it, the ratio survives a noisy,
// shared machine far better than two absolute figures.
package yardstick

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// P256 is a P-256 key with a digest and its signature.
type P256 struct {
	key    *ecdsa.PrivateKey
	digest [32]byte
	sig    []byte
}

// NewP256 returns a fresh key and a signature of a fixed digest.
func NewP256() *P256 {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p := &P256{key: k, digest: sha256.Sum256([]byte("header.payload"))}
	p.sig, _ = ecdsa.SignASN1(rand.Reader, k, p.digest[:])
	return p
}

// Verify verifies the signature: one bare VerifyASN1.
func (p *P256) Verify() bool { return ecdsa.VerifyASN1(&p.key.PublicKey, p.digest[:], p.sig) }

// Sign signs the digest: one bare SignASN1.
func (p *P256) Sign() error {
	_, err := ecdsa.SignASN1(rand.Reader, p.key, p.digest[:])
	return err
}

// BenchmarkVerify is the body of a package's BenchmarkECDSAVerifyASN1:
// one bare P-256 verification an iteration.
func BenchmarkVerify(b *testing.B) {
	p := NewP256()
	b.ReportAllocs()
	for b.Loop() {
		if !p.Verify() {
			b.Fatal("verify")
		}
	}
}
