package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/yardstick"
)

// BenchmarkECDSAVerifyASN1 is the yardstick: one bare P-256 signature
// verification, what a proof check cannot avoid.
func BenchmarkECDSAVerifyASN1(b *testing.B) { yardstick.BenchmarkVerify(b) }

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

// BenchmarkVerifyVsBareECDSA interleaves a full verification of a fresh
// proof with one bare P-256 VerifyASN1 and reports their cost ratio
// (x-bare), which a shared, noisy machine cannot skew the way it skews two
// benchmarks run one after the other. Target: at most 1.3.
//
// warm: one client key, as in real traffic (its header is parsed once);
// cold: a new key for every proof, so every header is parsed.
func BenchmarkVerifyVsBareECDSA(b *testing.B) {
	b.Run("warm", func(b *testing.B) { benchVerifyVsBare(b, false) })
	b.Run("cold", func(b *testing.B) { benchVerifyVsBare(b, true) })
}

func benchVerifyVsBare(b *testing.B, newKeyEach bool) {
	now := time.Now()
	const pool = 4096
	proofs := make([]string, pool)
	jkts := make([]string, pool)
	var s *Signer
	for i := range proofs {
		if s == nil || newKeyEach {
			key, _ := GenerateKey(ES256)
			s, _ = NewSigner(key, WithClock(func() time.Time { return now }))
		}
		proofs[i], _ = s.Proof("POST", testURL, WithAccessToken(testToken))
		jkts[i] = s.Thumbprint()
	}
	bare, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, bare, d[:])
	v, _ := NewVerifier(WithClock(func() time.Time { return now }))
	req := Request{Method: "POST", URL: testURL, AccessToken: testToken, Proofs: make([]string, 1)}
	var full, base time.Duration
	i := 0
	for b.Loop() {
		if i%pool == 0 {
			v.replay = NewMemoryReplayStore(0, func() time.Time { return now })
		}
		req.Proofs[0], req.JKT = proofs[i%pool], jkts[i%pool]
		t0 := time.Now()
		if _, err := v.Verify(context.Background(), req); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if !ecdsa.VerifyASN1(&bare.PublicKey, d[:], sig) {
			b.Fatal("verify")
		}
		t2 := time.Now()
		full += t1.Sub(t0)
		base += t2.Sub(t1)
		i++
	}
	b.ReportMetric(float64(full)/float64(base), "x-bare")
	b.ReportMetric(float64(full.Nanoseconds())/float64(i), "verify-ns/op")
	b.ReportMetric(float64(base.Nanoseconds())/float64(i), "bare-ns/op")
}
