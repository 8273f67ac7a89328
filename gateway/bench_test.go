package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/revocation"
	"github.com/wardauth/ward/secevent"
)

// cannedTransport answers every upstream request with a small 200 in
// memory, so the benchmark measures the gateway's own work (not an
// upstream's, nor loopback I/O; bench/gatewayload measures those).
type cannedTransport struct{}

func (cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: r,
		Header:        http.Header{"Content-Type": {"text/plain"}},
		Body:          io.NopCloser(strings.NewReader("ok\n")),
		ContentLength: 3,
	}, nil
}

// resettableReplay lets the benchmark start each pass over its proof
// numbering with an empty replay store.
type resettableReplay struct {
	p atomic.Pointer[dpop.MemoryReplayStore]
}

func (r *resettableReplay) Use(ctx context.Context, jkt, jti string, exp time.Time) error {
	return r.p.Load().Use(ctx, jkt, jti, exp)
}

// benchGateway is a gateway with one route to upstream (through
// transport when not nil) and a revocation set of 100 000 entries, and a source of requests with the same
// DPoP-bound token and a fresh proof each; the replay store starts empty
// every 4096 requests.
func benchGateway(b *testing.B, upstream string, transport http.RoundTripper) (http.Handler, func() *http.Request) {
	return benchGatewayFor(b, upstream, transport, false)
}

// benchGatewayFor is benchGateway; with forwardAuth the requests are
// nginx's auth_request checks of that request to the forward-auth
// endpoint (authorizer.go), from a trusted proxy.
func benchGatewayFor(b *testing.B, upstream string, transport http.RoundTripper, forwardAuth bool) (http.Handler, func() *http.Request) {
	return benchGatewayWith(b, upstream, transport, forwardAuth, nil)
}

// benchGatewayEvents is benchGatewayFor with the security events of
// Options.Events (nil: off).
func benchGatewayEvents(b testing.TB, upstream string, transport http.RoundTripper, forwardAuth bool, events *secevent.Emitter) (http.Handler, func() *http.Request) {
	return benchGatewayWith(b, upstream, transport, forwardAuth, func(o *gateway.Options) { o.Events = events })
}

// benchGatewayWith is benchGatewayFor with the gateway's options changed
// by opt (nil: none).
func benchGatewayWith(b testing.TB, upstream string, transport http.RoundTripper, forwardAuth bool, opt func(*gateway.Options)) (http.Handler, func() *http.Request) {
	clock := func() time.Time { return testNow }
	issuerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := dpop.NewSigner(ck, dpop.WithClock(clock))
	rr := &resettableReplay{}
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.Issuer, cfg.PublicURL = true, issuerURL, publicURL
	cfg.Routes = []config.Route{{Name: "orders", PathPrefix: "/orders/", Upstream: upstream, Policy: []config.PolicyRule{
		{Action: "allow", Principals: []string{"client:app"}, Methods: []string{"GET"}, Scopes: []string{"orders:read"}},
	}}}
	if forwardAuth {
		withAuthorizer(&cfg)
	}
	// A revocation feed holding 100 000 revocations (none of them the
	// benchmark's token): every request pays the check.
	revoked := revocation.NewSet(revocation.SetOptions{Clock: clock})
	entries := make([]revocation.Entry, 100_000)
	for i := range entries {
		entries[i] = revocation.Entry{JTI: fmt.Sprintf("revoked-%d", i), RevokedAt: testNow, Expires: testNow.Add(time.Hour)}
	}
	revoked.Add(entries)
	revoked.MarkSynced()
	opts := gateway.Options{
		Clock: clock, ReplayStore: rr, Transport: transport, Revocations: revoked,
		Keys:   resource.StaticKeys{Keys: []jose.JSONWebKey{{Key: &issuerKey.PublicKey, KeyID: "k1", Algorithm: "ES256"}}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if opt != nil {
		opt(&opts)
	}
	gw, err := gateway.New(&cfg, opts)
	if err != nil {
		b.Fatal(err)
	}
	e := &env{key: issuerKey, signer: signer}
	tok := e.token(nil)
	const u = publicURL + "/orders/42"
	n := 0
	return gw.Handler(), func() *http.Request {
		if n%4096 == 0 {
			rr.p.Store(dpop.NewMemoryReplayStore(0, clock))
		}
		n++
		p, err := signer.Proof("GET", u, dpop.WithAccessToken(tok))
		if err != nil {
			b.Fatal(err)
		}
		r := httptest.NewRequest("GET", u, nil)
		if forwardAuth {
			r = httptest.NewRequest("GET", "http://ward.internal/_ward/authorize", nil)
			r.Header.Set("X-Original-Method", "GET")
			r.Header.Set("X-Original-URI", "/orders/42")
			r.Header.Set("X-Forwarded-Proto", "https")
			r.Header.Set("X-Forwarded-Host", strings.TrimPrefix(publicURL, "https://"))
			r.Header.Set("X-Forwarded-For", "198.51.100.7")
		}
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", p)
		return r
	}
}

// BenchmarkGatewayVsBareECDSA interleaves, in every iteration, one request
// through the gateway's handler (same DPoP-bound token, cached after the
// first request; a fresh proof; policy; the proxy to an in-memory
// upstream) with one bare P-256 VerifyASN1, and reports the ratio of their
// summed times (x-bare). Proofs are made outside the timed parts. Target
// (issue 4): the gateway adds at most 2 verifies per request.
func BenchmarkGatewayVsBareECDSA(b *testing.B) {
	h, next := benchGateway(b, "http://upstream.invalid", cannedTransport{})
	benchVsBare(b, h, next)
}

// BenchmarkAuthorizerVsBareECDSA is BenchmarkGatewayVsBareECDSA for the
// forward-auth endpoint: nginx's check of the same request (token cached,
// a fresh proof each time, policy, identity headers in the answer), which
// forwards nothing. Target (issue 16): at most 1.3 bare verifies.
func BenchmarkAuthorizerVsBareECDSA(b *testing.B) {
	h, next := benchGatewayFor(b, "http://upstream.invalid", cannedTransport{}, true)
	benchVsBare(b, h, next)
}

// benchVsBare interleaves a request to h with a bare P-256 verify and
// reports the ratio of their summed times.
func benchVsBare(b *testing.B, h http.Handler, next func() *http.Request) {
	bare, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, bare, d[:])
	var full, base time.Duration
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		r := next()
		w := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(w, r)
		t1 := time.Now()
		if !ecdsa.VerifyASN1(&bare.PublicKey, d[:], sig) {
			b.Fatal("verify")
		}
		t2 := time.Now()
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
		full += t1.Sub(t0)
		base += t2.Sub(t1)
		n++
	}
	b.ReportMetric(float64(full)/float64(base), "x-bare")
	b.ReportMetric(float64(full.Nanoseconds())/float64(n), "gateway-ns/op")
	b.ReportMetric(float64(base.Nanoseconds())/float64(n), "bare-ns/op")
}

// BenchmarkGatewayLoopback sends requests like BenchmarkGatewayVsBareECDSA
// through the gateway's handler to a real upstream over loopback, so the
// upstream hop (the direct path of forward.go) is in it: its allocations
// per request are the gateway's whole per-request garbage apart from the
// HTTP server's. Its time includes the upstream's (same process).
func BenchmarkGatewayLoopback(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	}))
	defer up.Close()
	h, next := benchGateway(b, up.URL, nil)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		r := next()
		w := httptest.NewRecorder()
		b.StartTimer()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
