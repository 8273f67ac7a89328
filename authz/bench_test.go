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
)

// BenchmarkClientCredentialsDPoP measures the server's work for one
// client-credentials token with a fresh DPoP proof: form parsing, client
// authentication (cached client, SHA-256 secret check), one proof
// verification (P-256), one JWT signature (P-256). Proofs are made before
// the timer starts, since making them is the client's work. Compare with
// BenchmarkECDSAVerifyPlusSign: the target is at most 2x.
func BenchmarkClientCredentialsDPoP(b *testing.B) {
	h := newHarness(b)
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
