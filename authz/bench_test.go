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

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/pkce"
)

// BenchmarkClientCredentialsDPoP measures the server's work for one
// client-credentials token with a fresh DPoP proof: form parsing, client
// authentication (cached client, SHA-256 secret check), one proof
// verification (P-256), one JWT signature (P-256). Proofs are made before
// the timer starts, since making them is the client's work. Compare with
// BenchmarkECDSAVerifyPlusSign: the target is at most 2x.
func BenchmarkClientCredentialsDPoP(b *testing.B) {
	h := newHarness(b, withoutRequestRates())
	s := h.newSigner()
	handler := h.s.Handler()
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {h.secrets["svc"]}, "scope": {"read"}}.Encode()
	proofs := make([]string, b.N)
	for i := range proofs {
		proofs[i] = h.proof(s)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, h.issuer+PathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", proofs[i])
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkECDSAVerifyPlusSign is the floor: one P-256 verification and
// one P-256 signature, the cryptography a DPoP-bound token needs.
func BenchmarkECDSAVerifyPlusSign(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
			b.Fatal("verify")
		}
		if _, err := ecdsa.SignASN1(rand.Reader, k, d[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenVsBare interleaves, in every iteration, one
// client-credentials token request with a fresh DPoP proof through the
// server's handler (as BenchmarkClientCredentialsDPoP) with one bare P-256
// verify plus one sign, and reports the ratio of their summed times
// (x-bare): a ratio a noisy, shared machine barely moves, unlike two
// benchmarks run one after the other. The proof is made outside the timed
// parts (it is the client's work). Target (issue 3): at most 2, for the
// whole server including HTTP; this is the handler's share.
func BenchmarkTokenVsBare(b *testing.B) {
	h := newHarness(b, withoutRequestRates())
	s := h.newSigner()
	handler := h.s.Handler()
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {h.secrets["svc"]}, "scope": {"read"}}.Encode()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	var full, base time.Duration
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		proof := h.proof(s)
		req := httptest.NewRequest(http.MethodPost, h.issuer+PathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", proof)
		w := httptest.NewRecorder()
		t0 := time.Now()
		handler.ServeHTTP(w, req)
		t1 := time.Now()
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
			b.Fatal("verify")
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

// BenchmarkUserInfoDPoP measures the server's work for one UserInfo
// request with a DPoP-bound token and a fresh proof: the access token's
// signature (P-256, parseAccessToken), the revocation and family reads,
// the proof (P-256, ath, replay), the user read and the claims. Compare
// with BenchmarkECDSAVerifyTwice, the cryptography's floor.
func BenchmarkUserInfoDPoP(b *testing.B) {
	h := newOIDCHarness(b)
	s := h.newSigner()
	tok := h.loginToken("rp", spaRedirect, "openid profile email", s).str("access_token")
	handler := h.s.Handler()
	u := h.issuer + PathUserInfo
	proofs := make([]string, b.N)
	for i := range proofs {
		p, err := s.Proof(http.MethodGet, u, dpop.WithAccessToken(tok))
		if err != nil {
			b.Fatal(err)
		}
		proofs[i] = p
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "DPoP "+tok)
		req.Header.Set("DPoP", proofs[i])
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkECDSAVerifyTwice: two P-256 verifications, the cryptography of
// a UserInfo request with a DPoP-bound token (token and proof).
func BenchmarkECDSAVerifyTwice(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	psig, _ := ecdsa.SignASN1(rand.Reader, p, d[:])
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) || !ecdsa.VerifyASN1(&p.PublicKey, d[:], psig) {
			b.Fatal("verify")
		}
	}
}

// BenchmarkRequestObjectVsBare interleaves, in every iteration, the
// verification of one request object (verifyRequestObject: strictjson
// checks, one ES256 verify, the claims and the parameters; the store's
// jti write is not included) with one bare P-256 verify, and reports the
// ratio of their summed times (x-bare).
func BenchmarkRequestObjectVsBare(b *testing.B) {
	h := newHarness(b)
	obj := h.ro(pkce.Challenge(strings.Repeat("v", 43)), nil)
	chk := requestObjectCheck{algs: h.s.requestObjectAlgs, keys: h.jwtKeys(), clientID: "jwt", issuer: h.issuer, now: h.clk.Now()}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	var full, base time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if _, e := verifyRequestObject(obj, chk); e != nil {
			b.Fatal(e)
		}
		t1 := time.Now()
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
			b.Fatal("verify")
		}
		full += t1.Sub(t0)
		base += time.Since(t1)
	}
	b.ReportMetric(float64(full)/float64(base), "x-bare")
}
