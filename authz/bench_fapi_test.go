package authz

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/fapi"
)

// BenchmarkFAPITokenVsBare is BenchmarkTokenVsBare under fapi2-security:
// a client-credentials request of a private_key_jwt client (the
// assertion's signature verified, its aud checked as the profile asks, its
// jti recorded) with a fresh DPoP proof (verified), answered with a signed
// token. Each iteration interleaves it with its signature operations done
// bare (two P-256 verifications and one signature) and reports the ratio of
// their summed times (x-bare). The assertion's jti is recorded in the DPoP
// replay store (the server's default, in memory; useAssertionJTI), as the
// proof's. The assertion and the proof are made outside the timed parts:
// they are the client's work. Target (issue 21): at most 1.4.
//
// The sub-benchmark none is the same private_key_jwt request without the
// profile: the difference is the profile's own cost.
func BenchmarkFAPITokenVsBare(b *testing.B) {
	for _, p := range []fapi.Profile{fapi.Security, fapi.None} {
		name := string(p)
		if p == fapi.None {
			name = "none"
		}
		b.Run(name, func(b *testing.B) { benchmarkPKJWTToken(b, p) })
	}
}

func benchmarkPKJWTToken(b *testing.B, p fapi.Profile) {
	h := newHarness(b, withoutRequestRates(), withProfile(p))
	s := h.newSigner()
	handler := h.s.Handler()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	var full, base time.Duration
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		body := h.jwtAuth(url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, h.issuer).Encode()
		proof := h.proof(s)
		req := httptest.NewRequest(http.MethodPost, h.issuer+PathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", proof)
		w := httptest.NewRecorder()
		t0 := time.Now()
		handler.ServeHTTP(w, req)
		t1 := time.Now()
		for range 2 {
			if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
				b.Fatal("verify")
			}
		}
		if _, err := ecdsa.SignASN1(rand.Reader, k, d[:]); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		full += t1.Sub(t0)
		base += t2.Sub(t1)
		n++
	}
	b.ReportMetric(float64(full)/float64(base), "x-bare")
	b.ReportMetric(float64(full.Nanoseconds())/float64(n), "token-ns/op")
	b.ReportMetric(float64(base.Nanoseconds())/float64(n), "bare-ns/op")
}
