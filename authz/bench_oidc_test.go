//go:build unix

package authz

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/store"
)

// BenchmarkTokenOpenID measures what openid adds to the
// authorization-code grant: one more P-256 signature per token (the ID
// token). Every iteration redeems two codes through the server's handler,
// one granted "openid read" and one "read" (client_secret_basic, a fresh
// DPoP proof, SQLite RedeemCode with a refresh token), then does one bare
// P-256 verify plus two signs (the cryptography of a code grant with
// openid). Each part is timed in process CPU (getrusage), so the other
// processes of a shared machine do not count, and the parts alternate
// within the loop, so drift hits all three alike. It reports CPU per
// token for each grant and its ratio to the bare operations (x-bare).
// Codes are stored and proofs made outside the timed parts:
//
//	go test -run '^$' -bench 'TokenOpenID' -count 6 ./authz
func BenchmarkTokenOpenID(b *testing.B) {
	h := newHarness(b, withoutRequestRates())
	s := h.newSigner()
	handler := h.s.Handler()
	verifier := strings.Repeat("v", 43)
	challenge := pkce.Challenge(verifier)
	auth := h.basic("web")
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	var withOpenID, plain, bare time.Duration
	n := 0
	redeem := func(scope string) time.Duration {
		code := h.benchCode(scope, challenge)
		body := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {webRedirect}}.Encode()
		req := httptest.NewRequest(http.MethodPost, h.issuer+PathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(auth[0], auth[1])
		req.Header.Set("DPoP", h.proof(s))
		w := httptest.NewRecorder()
		c0 := cpuTime()
		handler.ServeHTTP(w, req)
		spent := cpuTime() - c0
		if w.Code != http.StatusOK || hasScope(scope, "openid") != strings.Contains(w.Body.String(), `"id_token"`) {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		return spent
	}
	for b.Loop() {
		withOpenID += redeem("openid read")
		plain += redeem("read")
		c0 := cpuTime()
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
			b.Fatal("verify")
		}
		for range 2 {
			if _, err := ecdsa.SignASN1(rand.Reader, k, d[:]); err != nil {
				b.Fatal(err)
			}
		}
		bare += cpuTime() - c0
		n++
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(n) }
	b.ReportMetric(per(withOpenID), "openid-cpu-ns/token")
	b.ReportMetric(per(plain), "plain-cpu-ns/token")
	b.ReportMetric(per(bare), "bare-cpu-ns")
	b.ReportMetric(float64(withOpenID)/float64(bare), "openid-x-bare")
	b.ReportMetric(float64(plain)/float64(bare), "plain-x-bare")
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchCode stores a live code for web and alice, as /authorize would.
func (h *harness) benchCode(scope, challenge string) string {
	h.t.Helper()
	v, now := randomToken(32), h.clk.Now()
	c := &store.AuthCode{Hash: hashToken(v), ClientID: "web", Subject: "u-alice", RedirectURI: webRedirect,
		Scope: scope, CodeChallenge: challenge, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute),
		OIDC: store.OIDC{Nonce: "n", ACR: ACRPassword, AMR: amrPassword, SID: store.SessionID(hashToken(v))}}
	if err := h.st.PutCode(context.Background(), c); err != nil {
		h.t.Fatal(err)
	}
	return v
}
