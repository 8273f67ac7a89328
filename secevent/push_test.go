package secevent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/internal/loglimit"
)

// failingTransport fails its first n round trips (the authorization
// server down), then forwards.
type failingTransport struct {
	n     atomic.Int32
	tries atomic.Int32
}

func (f *failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.tries.Add(1)
	if f.n.Add(-1) >= 0 {
		return nil, errors.New("connection refused")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// receiverServer is an RFC 8935 receiver that records what it accepts.
func receiverServer(t *testing.T, r *SETReceiver, status func() int) (*httptest.Server, func() []Event) {
	var mu sync.Mutex
	var got []Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if s := status(); s != 0 {
			w.WriteHeader(s)
			return
		}
		body, _ := io.ReadAll(req.Body)
		if err := CheckSETMediaType(req.Header.Get("Content-Type")); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc, err := r.Verify(body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"err":"` + err.(*SETError).Code + `"}`))
			return
		}
		mu.Lock()
		got = append(got, rc.Event)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []Event { mu.Lock(); defer mu.Unlock(); return append([]Event(nil), got...) }
}

func newTestPusher(t *testing.T, url string, tr http.RoundTripper, reg prometheus.Registerer) (*Pusher, *SETReceiver) {
	t.Helper()
	k := testKey(t)
	s, err := NewSETSigner(k, testGW, testAS)
	if err != nil {
		t.Fatal(err)
	}
	r := testReceiver(k)
	r.Now = time.Now
	p := NewPusher(PushOptions{URL: url, Signer: s, TokenIssuer: testAS, Client: &http.Client{Transport: tr},
		Logger: slog.New(slog.DiscardHandler), Queue: 8, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, Registry: reg})
	return p, r
}

// runPusher runs p until the test ends.
func runPusher(t *testing.T, p *Pusher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFor polls cond (the pusher works in the background); no timing is
// asserted, the bound only stops a broken test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// The authorization server unreachable: the pusher retries with backoff
// and delivers once it is back; Write never waited.
func TestPushRetriesUntilDelivered(t *testing.T) {
	tr := &failingTransport{}
	tr.n.Store(5)
	p, r := newTestPusher(t, "", tr, nil)
	srv, got := receiverServer(t, r, func() int { return 0 })
	p.opts.URL = srv.URL
	runPusher(t, p)
	if err := p.Write(context.Background(), []Event{leakEvent()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", func() bool { return p.Count(PushDelivered) == 1 })
	if ev := got()[0]; len(got()) != 1 || ev.FamilyID != testFam || ev.Type != TokenLeaked {
		t.Errorf("delivered %+v", ev)
	}
	if n := p.Count(PushRetried); n != 5 {
		t.Errorf("%d retries counted, want 5", n)
	}
	if tr.tries.Load() != 6 {
		t.Errorf("%d attempts, want 6", tr.tries.Load())
	}
}

// 503 and 429 are retried too; a 400 is not (the SET would be refused
// again), and it is counted as rejected.
func TestPushRetriesUnavailableNotRefused(t *testing.T) {
	var calls atomic.Int32
	p, r := newTestPusher(t, "", http.DefaultTransport, nil)
	srv, got := receiverServer(t, r, func() int {
		switch calls.Add(1) {
		case 1:
			return http.StatusServiceUnavailable
		case 2:
			return http.StatusTooManyRequests
		}
		return 0
	})
	p.opts.URL = srv.URL
	runPusher(t, p)
	_ = p.Write(context.Background(), []Event{leakEvent()})
	waitFor(t, "delivery", func() bool { return p.Count(PushDelivered) == 1 && len(got()) == 1 })
	login := leakEvent()
	login.Type = LoginFailed // a receiver refuses it: access_denied
	_ = p.Write(context.Background(), []Event{login})
	waitFor(t, "refusal", func() bool { return p.Count(PushRejected) == 1 })
	if calls.Load() != 4 || p.Count(PushRetried) != 2 {
		t.Errorf("%d calls, %d retried; want 4 and 2", calls.Load(), p.Count(PushRetried))
	}
}

// Write never blocks: with the receiver stuck and the queue full, the
// events past it are dropped, counted in the metric and logged.
func TestPushNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	reg := prometheus.NewRegistry()
	p, _ := newTestPusher(t, srv.URL, http.DefaultTransport, reg)
	runPusher(t, p)
	start := time.Now()
	for range 100 {
		_ = p.Write(context.Background(), []Event{leakEvent()})
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("100 Writes with a stuck receiver took %s", took)
	}
	// One in flight at most, eight queued: at least 91 dropped.
	if n := p.Count(PushQueueFull); n < 91 {
		t.Errorf("%d dropped, want >= 91", n)
	}
	mfs, _ := reg.Gather()
	var metric float64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "ward_security_event_pushes_total" && m.GetLabel()[0].GetValue() == PushQueueFull {
				metric = m.GetCounter().GetValue()
			}
		}
	}
	if metric != float64(p.Count(PushQueueFull)) {
		t.Errorf("metric %v, count %d", metric, p.Count(PushQueueFull))
	}
}

// An event retried past MaxRetry is dropped and counted, not kept
// forever; the pusher goes on with the next.
func TestPushGivesUp(t *testing.T) {
	tr := &failingTransport{}
	tr.n.Store(1 << 30)
	p, _ := newTestPusher(t, "http://127.0.0.1:1/events/push", tr, nil)
	p.opts.MaxRetry = 20 * time.Millisecond
	runPusher(t, p)
	_ = p.Write(context.Background(), []Event{leakEvent(), leakEvent()})
	waitFor(t, "giving up", func() bool { return p.Count(PushExpired) == 2 })
}

// Past the per-type bound, non-critical events are not pushed (counted);
// a critical one always is.
func TestPushLimitSparesCritical(t *testing.T) {
	p, _ := newTestPusher(t, "http://127.0.0.1:1", http.DefaultTransport, nil)
	p.opts.Limit = loglimit.New(0.0001, 1, nil)
	nonce := Event{Type: NonceFailure, Severity: Info}
	_ = p.Write(context.Background(), []Event{nonce, nonce, nonce, leakEvent(), leakEvent()})
	if p.Count(PushLimited) != 2 || len(p.q) != 3 {
		t.Errorf("%d limited, %d queued; want 2 and 3", p.Count(PushLimited), len(p.q))
	}
}

// An event written once Run has returned (a sink called late in a
// shutdown) is counted and logged as expired, not left in the queue.
func TestPushAfterShutdownCounted(t *testing.T) {
	p, _ := newTestPusher(t, "http://127.0.0.1:1", http.DefaultTransport, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = p.Run(ctx)
	_ = p.Write(context.Background(), []Event{leakEvent()})
	if p.Count(PushExpired) != 1 || len(p.q) != 0 {
		t.Errorf("%d expired, %d queued; want 1 and 0", p.Count(PushExpired), len(p.q))
	}
}
