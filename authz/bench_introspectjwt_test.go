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
)

// BenchmarkIntrospectionJWTVsBare interleaves, in every iteration, one
// plain introspection of a DPoP-bound access token by its own client
// (Basic secret, the token's P-256 verify, revocation and family reads,
// the username read), the same request with Accept:
// application/token-introspection+jwt (plus one P-256 signature, RFC
// 9701), and one bare P-256 verify plus sign; it reports each request's
// time over the bare pair's (plain-x-bare, jwt-x-bare): the JWT answer's
// cryptography is exactly a verify plus a sign.
func BenchmarkIntrospectionJWTVsBare(b *testing.B) {
	h := newHarness(b, withoutRequestRates())
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	tok := h.exchange("web", c, v, webRedirect, h.newSigner()).str("access_token")
	handler := h.s.Handler()
	body := url.Values{"token": {tok}}.Encode()
	auth := h.basic("web")[1]
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	do := func(accept string) time.Duration {
		req := httptest.NewRequest(http.MethodPost, h.issuer+PathIntrospect, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", auth)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		w := httptest.NewRecorder()
		t0 := time.Now()
		handler.ServeHTTP(w, req)
		el := time.Since(t0)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "active") && accept == "" {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		return el
	}
	var plain, signed, base time.Duration
	b.ReportAllocs()
	for b.Loop() {
		plain += do("")
		signed += do(mediaTypeIntrospectionJWT)
		t0 := time.Now()
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
			b.Fatal("verify")
		}
		if _, err := ecdsa.SignASN1(rand.Reader, k, d[:]); err != nil {
			b.Fatal(err)
		}
		base += time.Since(t0)
	}
	b.ReportMetric(float64(plain)/float64(base), "plain-x-bare")
	b.ReportMetric(float64(signed)/float64(base), "jwt-x-bare")
}
