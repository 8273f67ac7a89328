package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"
)

// BenchmarkECDSAVerifyASN1 is the yardstick: one bare P-256 signature
// verification, what a proof check cannot avoid.
func BenchmarkECDSAVerifyASN1(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
			b.Fatal("verify")
		}
	}
}

func BenchmarkProof(b *testing.B) {
	key, _ := GenerateKey(ES256)
	s, _ := NewSigner(key)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Proof("POST", testURL, WithAccessToken(testToken)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is a full verification of a fresh proof: every §4.3 check,
// the key binding, and the replay store.
func BenchmarkVerify(b *testing.B) {
	key, _ := GenerateKey(ES256)
	now := time.Now()
	s, _ := NewSigner(key, WithClock(func() time.Time { return now }))
	const pool = 4096
	proofs := make([]string, pool)
	for i := range proofs {
		proofs[i], _ = s.Proof("POST", testURL, WithAccessToken(testToken))
	}
	v, _ := NewVerifier(WithClock(func() time.Time { return now }))
	req := Request{Method: "POST", URL: testURL, AccessToken: testToken, JKT: s.Thumbprint(), Proofs: make([]string, 1)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%pool == 0 {
			// A fresh replay store per pass over the pool, so every
			// verification is of an unseen proof.
			b.StopTimer()
			v.replay = NewMemoryReplayStore(0, func() time.Time { return now })
			b.StartTimer()
		}
		req.Proofs[0] = proofs[i%pool]
		if _, err := v.Verify(context.Background(), req); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
