package eventflood

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/secevent"
)

const (
	issuer    = "https://as.example"
	publicURL = "https://api.example"
	requests  = 100_000
	maxRate   = 50 // webhook deliveries a second
	burst     = 20
	// heapCeiling is a generous bound on the heap's growth: the queues
	// hold at most 4096 + 1000 events of a few hundred bytes.
	heapCeiling = 32 << 20
)

// receiver counts deliveries that verify, and when the last came.
type receiver struct {
	mu       sync.Mutex
	verified int
	refused  int
	last     time.Time
}

// TestFloodBoundedMemoryAndWebhookRate: 100,000 requests presenting a
// DPoP-bound token as Bearer (each refused 401 and a token_leaked event)
// grow the heap by less than heapCeiling, and the webhook delivers at
// most burst + max_rate × elapsed; the rest is dropped and counted.
func TestFloodBoundedMemoryAndWebhookRate(t *testing.T) {
	if testing.Short() {
		t.Skip("the flood takes some seconds; skipped with -short")
	}
	if wardtest.Race {
		t.Skip("the figure is measured without the race detector, which multiplies memory and time")
	}
	secret := secevent.WebhookSecretPrefix + base64.StdEncoding.EncodeToString([]byte("flood-test-secret-of-32-bytes!!!"))
	rcv := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := secevent.VerifyWebhook(secret, r.Header, body, time.Now(), time.Minute)
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if err != nil {
			rcv.refused++
		} else {
			rcv.verified++
			rcv.last = time.Now()
		}
	}))
	defer srv.Close()
	key, _ := secevent.ParseWebhookSecret(secret)
	hook, err := secevent.NewWebhook(secevent.WebhookOptions{Name: "flood", URL: srv.URL, Keys: [][]byte{key},
		Rate: maxRate, Burst: burst, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	em := secevent.NewEmitter(secevent.Options{Instance: "flood", Sinks: []secevent.Sink{hook}})
	gw, tok := newGateway(t, em)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ctx, cancel := context.WithCancel(context.Background())
	hookDone, emDone := make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() { _ = hook.Run(ctx); close(hookDone) }()
	go func() { _ = em.Run(ctx); close(emDone) }()
	peak := flood(t, gw, tok)
	elapsed := time.Since(start)
	cancel()
	<-emDone
	<-hookDone
	runtime.GC()
	runtime.ReadMemStats(&after)

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	window := rcv.last.Sub(start).Seconds()
	t.Logf("%d refused requests in %v (%.0f/s); heap growth after GC %.1f MiB, peak heap in use %.1f MiB over %.1f MiB before",
		requests, elapsed.Round(time.Millisecond), requests/elapsed.Seconds(), float64(growth)/(1<<20),
		float64(peak)/(1<<20), float64(before.HeapAlloc)/(1<<20))
	t.Logf("webhook: %d deliveries in %.2f s = %.1f/s (max_rate %d, burst %d); emitter dropped %d",
		rcv.verified, window, float64(rcv.verified)/window, maxRate, burst, em.Dropped())
	if rcv.refused > 0 {
		t.Errorf("%d deliveries failed VerifyWebhook", rcv.refused)
	}
	if rcv.verified == 0 {
		t.Fatal("no delivery")
	}
	if limit := burst + maxRate*window + 1; float64(rcv.verified) > limit {
		t.Errorf("%d deliveries in %.2f s: more than burst + max_rate × time = %.0f", rcv.verified, window, limit)
	}
	if growth > heapCeiling || peak-int64(before.HeapAlloc) > 4*heapCeiling {
		t.Errorf("heap grew %d bytes (peak %d): the pipeline is not bounded", growth, peak)
	}
}

// flood sends the requests, each refused with 401; it returns the peak
// heap in use seen every 10,000 requests (no GC forced).
func flood(t *testing.T, gw *gateway.Gateway, tok string) int64 {
	var peak int64
	var ms runtime.MemStats
	h := gw.Handler()
	for i := range requests {
		r := httptest.NewRequest("GET", publicURL+"/orders/1", nil)
		r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4000", i>>16&255, i>>8&255, i&255)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("request %d: %d, want 401", i, w.Code)
		}
		if i%10_000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, int64(ms.HeapAlloc))
		}
	}
	return peak
}

// newGateway is a gateway with one DPoP route whose issuer's key signed
// tok, a DPoP-bound token (cnf.jkt) that is refused as Bearer.
func newGateway(t *testing.T, em *secevent.Emitter) (*gateway.Gateway, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := dpop.NewSigner(ck)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.Issuer, cfg.PublicURL = true, issuer, publicURL
	cfg.Routes = []config.Route{{Name: "orders", PathPrefix: "/orders/", Upstream: "http://127.0.0.1:1",
		Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"client:app"}}}}}
	gw, err := gateway.New(&cfg, gateway.Options{Events: em,
		Keys:   resource.StaticKeys{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256"}}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := map[string]any{"iss": issuer, "sub": "alice", "client_id": "app", "aud": publicURL,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "t1", "grant_id": "fam-1",
		"cnf": map[string]any{"jkt": signer.Thumbprint()}}
	hb, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "k1"})
	cb, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	d := sha256.Sum256([]byte(in))
	r, s, _ := ecdsa.Sign(rand.Reader, key, d[:])
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return gw, in + "." + base64.RawURLEncoding.EncodeToString(sig)
}
