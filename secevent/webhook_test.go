package secevent

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// testSecret returns a whsec_ secret and its key, n bytes of b.
func testSecret(b byte) (string, []byte) {
	key := []byte(strings.Repeat(string(rune(b)), 32))
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(key), key
}

// delivery is one request a test receiver saw.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is an httptest server answering with status(n) for the n-th
// request (1-based) and recording every request.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []delivery
	hits atomic.Int64
}

func newReceiver(t *testing.T, status func(n int64, w http.ResponseWriter) int) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := r.hits.Add(1)
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{req.Header.Clone(), body})
		r.mu.Unlock()
		w.WriteHeader(status(n, w))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// fakeTime is a clock that Sleep advances, recording each wait.
type fakeTime struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	f.waits = append(f.waits, d)
	return ctx.Err()
}

func newTestWebhook(t *testing.T, url string, mod func(*WebhookOptions)) (*Webhook, *prometheus.Registry) {
	t.Helper()
	_, key := testSecret('k')
	reg := prometheus.NewRegistry()
	o := WebhookOptions{Name: "siem", URL: url, Keys: [][]byte{key}, Registry: reg, Types: Types,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&o)
	}
	w, err := NewWebhook(o)
	if err != nil {
		t.Fatal(err)
	}
	return w, reg
}

// runAll delivers what is queued, then returns (Run after a cancel).
func runAll(w *Webhook) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = w.Run(ctx)
}

func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// A delivery verifies with VerifyWebhook under the current secret and,
// during a rotation, under the previous one; its body is the event under
// its log keys, sanitized: a JWT slipped into a field never leaves.
func TestWebhookSignedDelivery(t *testing.T) {
	current, curKey := testSecret('c')
	previous, prevKey := testSecret('p')
	other, _ := testSecret('o')
	rcv := newReceiver(t, func(int64, http.ResponseWriter) int { return 200 })
	w, reg := newTestWebhook(t, rcv.srv.URL, func(o *WebhookOptions) { o.Keys = [][]byte{curKey, prevKey} })
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	_ = w.Write(context.Background(), []Event{{Time: at, Type: TokenLeaked, Severity: Critical, ClientID: "app",
		Subject: "alice", FamilyID: "fam-1", Reason: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", ClientAddr: "192.0.2.1"}})
	runAll(w)
	got := rcv.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	d := got[0]
	for _, s := range []string{current, previous} {
		if err := VerifyWebhook(s, d.header, d.body, time.Now(), time.Minute); err != nil {
			t.Errorf("VerifyWebhook: %v", err)
		}
	}
	if err := VerifyWebhook(other, d.header, d.body, time.Now(), time.Minute); err == nil {
		t.Error("another secret verified the delivery")
	}
	if n := len(strings.Split(d.header.Get(HeaderWebhookSignature), " ")); n != 2 {
		t.Errorf("%d signatures, want one a key", n)
	}
	if ct := d.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	want := `{"type":"token_leaked","timestamp":"2026-12-06T09:00:00Z","data":{"severity":"critical","client_id":"app",` +
		`"sub":"alice","family_id":"fam-1","ip":"192.0.2.1","reason":"[redacted]"}}`
	if string(d.body) != want {
		t.Errorf("body\n%s\nwant\n%s", d.body, want)
	}
	if v := metric(t, reg, "ward_security_webhook_delivered_total", "webhook", "siem"); v != 1 {
		t.Errorf("delivered = %v", v)
	}
}

// 5xx and 429 are retried with the same webhook-id after a backoff (a
// Retry-After honoured up to the cap) until a 2xx; each retry is counted.
func TestWebhookRetriesThenSuccess(t *testing.T) {
	rcv := newReceiver(t, func(n int64, w http.ResponseWriter) int {
		switch n {
		case 1:
			return 503
		case 2:
			w.Header().Set("Retry-After", "7")
			return 429
		case 3:
			w.Header().Set("Retry-After", "86400")
			return 502
		}
		return 204
	})
	ft := &fakeTime{now: time.Unix(1_800_000_000, 0)}
	w, reg := newTestWebhook(t, rcv.srv.URL, func(o *WebhookOptions) {
		o.Clock, o.Sleep, o.Backoff, o.MaxBackoff = ft.Now, ft.Sleep, time.Second, 30*time.Second
	})
	_ = w.Write(context.Background(), []Event{{Type: RefreshReplayed, Severity: Critical}})
	runAll(w)
	got := rcv.deliveries()
	if len(got) != 4 {
		t.Fatalf("%d attempts, want 4", len(got))
	}
	for _, d := range got[1:] {
		if d.header.Get(HeaderWebhookID) != got[0].header.Get(HeaderWebhookID) {
			t.Error("a retry changed the webhook-id")
		}
	}
	// Backoff 1 s then 2 s then 4 s, jittered into [d/2, d]; Retry-After
	// 7 s wins over the second; a day is capped at 30 s.
	if len(ft.waits) != 3 {
		t.Fatalf("waits %v, want 3", ft.waits)
	}
	if w0 := ft.waits[0]; w0 < 500*time.Millisecond || w0 > time.Second {
		t.Errorf("first backoff %v, want 0.5-1 s", w0)
	}
	if ft.waits[1] != 7*time.Second || ft.waits[2] != 30*time.Second {
		t.Errorf("waits after Retry-After 7 and 86400: %v, want 7s and the 30s cap", ft.waits[1:])
	}
	if r := metric(t, reg, "ward_security_webhook_retries_total"); r != 3 {
		t.Errorf("retries = %v, want 3", r)
	}
	if d := metric(t, reg, "ward_security_webhook_delivered_total"); d != 1 {
		t.Errorf("delivered = %v, want 1", d)
	}
}

// A 4xx other than 429 is the receiver refusing: not retried, counted as
// rejected. Attempts stop at MaxAttempts for a receiver always failing.
func TestWebhookNotRetried(t *testing.T) {
	for _, tc := range []struct {
		status   int
		attempts int64
		reason   string
	}{{400, 1, "rejected"}, {401, 1, "rejected"}, {410, 1, "rejected"}, {500, 3, "server_error"}} {
		rcv := newReceiver(t, func(int64, http.ResponseWriter) int { return tc.status })
		ft := &fakeTime{now: time.Unix(1_800_000_000, 0)}
		w, reg := newTestWebhook(t, rcv.srv.URL, func(o *WebhookOptions) { o.Clock, o.Sleep, o.MaxAttempts = ft.Now, ft.Sleep, 3 })
		_ = w.Write(context.Background(), []Event{{Type: CodeReplayed}})
		runAll(w)
		if n := rcv.hits.Load(); n != tc.attempts {
			t.Errorf("status %d: %d attempts, want %d", tc.status, n, tc.attempts)
		}
		if f := metric(t, reg, "ward_security_webhook_failed_total", "reason", tc.reason); f != 1 {
			t.Errorf("status %d: failed{reason=%s} = %v, want 1", tc.status, tc.reason, f)
		}
	}
}

// A redirect is never followed (the receiver could point Ward at an
// internal address): the delivery fails as redirect, once.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	target := newReceiver(t, func(int64, http.ResponseWriter) int { return 200 })
	rcv := newReceiver(t, func(_ int64, w http.ResponseWriter) int {
		w.Header().Set("Location", target.srv.URL+"/internal")
		return 307
	})
	w, reg := newTestWebhook(t, rcv.srv.URL, nil)
	_ = w.Write(context.Background(), []Event{{Type: TokenLeaked}})
	runAll(w)
	if target.hits.Load() != 0 {
		t.Error("the redirect was followed")
	}
	if rcv.hits.Load() != 1 || metric(t, reg, "ward_security_webhook_failed_total", "reason", "redirect") != 1 {
		t.Errorf("hits %d, failed{redirect} %v", rcv.hits.Load(), metric(t, reg, "ward_security_webhook_failed_total", "reason", "redirect"))
	}
}

// The queue is bounded: past it events are dropped and counted, and the
// queue length is exported.
func TestWebhookQueueBound(t *testing.T) {
	w, reg := newTestWebhook(t, "https://siem.example/hook", func(o *WebhookOptions) { o.Queue = 10 })
	evs := make([]Event, 25)
	for i := range evs {
		evs[i] = Event{Type: TokenLeaked}
	}
	_ = w.Write(context.Background(), evs)
	if q := metric(t, reg, "ward_security_webhook_queue_length"); q != 10 {
		t.Errorf("queue length %v, want 10", q)
	}
	if d := metric(t, reg, "ward_security_webhook_dropped_total"); d != 15 {
		t.Errorf("dropped %v, want 15", d)
	}
}

// Types and MinSeverity filter before the queue; the default types are
// the ones a person must hear about.
func TestWebhookFilter(t *testing.T) {
	w, _ := newTestWebhook(t, "https://siem.example/hook", func(o *WebhookOptions) { o.Types = nil; o.MinSeverity = Critical })
	_ = w.Write(context.Background(), []Event{{Type: LoginFailed, Severity: Warning}, {Type: AccountLocked, Severity: Warning},
		{Type: TokenLeaked, Severity: Critical}, {Type: NonceFailure, Severity: Critical}})
	if n := len(w.q); n != 1 {
		t.Errorf("%d queued, want 1 (token_leaked)", n)
	}
	for _, typ := range []Type{TokenLeaked, RefreshReplayed, CodeReplayed, AccountLocked} {
		if !w.wants(Event{Type: typ, Severity: Critical}) {
			t.Errorf("%s not in the default types", typ)
		}
	}
}

// A hung receiver blocks neither Emit nor the other sinks: they get every
// event while the webhook's queue fills and drops.
func TestWebhookSlowReceiverDoesNotBlock(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer hung.Close()
	defer close(release)
	w, reg := newTestWebhook(t, hung.URL, func(o *WebhookOptions) { o.Queue = 5; o.Drain = 10 * time.Millisecond })
	var mu sync.Mutex
	seen := 0
	other := SinkFunc(func(_ context.Context, evs []Event) error {
		mu.Lock()
		defer mu.Unlock()
		seen += len(evs)
		return nil
	})
	em := NewEmitter(Options{Sinks: []Sink{w, other}, Queue: 1000})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	for range 200 {
		em.Emit(Event{Type: TokenLeaked})
	}
	stop, cancelEm := context.WithCancel(context.Background())
	cancelEm()
	_ = em.Run(stop) // writes all 200 to both sinks
	mu.Lock()
	if seen != 200 {
		t.Errorf("the other sink saw %d of 200 events", seen)
	}
	mu.Unlock()
	if d := metric(t, reg, "ward_security_webhook_dropped_total"); d < 194 {
		t.Errorf("webhook dropped %v, want >= 194 (queue 5, one in flight)", d)
	}
	cancel()
	<-done // the drain gives up after its bound
}

// The webhook's own rate caps the requests to the receiver, retries
// included: Burst at once, Rate a second after that (fake clock).
func TestWebhookRateCap(t *testing.T) {
	ft := &fakeTime{now: time.Unix(1_800_000_000, 0)}
	start := ft.Now()
	var mu sync.Mutex
	var at []time.Duration
	rcv := newReceiver(t, func(n int64, _ http.ResponseWriter) int {
		mu.Lock()
		at = append(at, ft.Now().Sub(start))
		mu.Unlock()
		if n%10 == 0 {
			return 503 // a retry takes a token too
		}
		return 200
	})
	w, _ := newTestWebhook(t, rcv.srv.URL, func(o *WebhookOptions) {
		o.Clock, o.Sleep, o.Rate, o.Burst, o.Queue, o.Backoff = ft.Now, ft.Sleep, 10, 5, 200, time.Millisecond
	})
	evs := make([]Event, 100)
	for i := range evs {
		evs[i] = Event{Type: TokenLeaked}
	}
	_ = w.Write(context.Background(), evs)
	runAll(w)
	if len(at) < 100 {
		t.Fatalf("%d requests, want at least 100", len(at))
	}
	for k, d := range at {
		if allowed := 5 + 10*d.Seconds(); float64(k+1) > allowed+1e-9 {
			t.Fatalf("request %d at %v: more than burst 5 + 10/s (%.1f)", k+1, d, allowed)
		}
	}
}

// Events queued at shutdown are delivered within the drain bound.
func TestWebhookDrainsAtShutdown(t *testing.T) {
	rcv := newReceiver(t, func(int64, http.ResponseWriter) int { return 200 })
	w, reg := newTestWebhook(t, rcv.srv.URL, nil)
	_ = w.Write(context.Background(), []Event{{Type: TokenLeaked}, {Type: CodeReplayed}, {Type: RefreshReplayed}})
	runAll(w)
	if n := rcv.hits.Load(); n != 3 {
		t.Errorf("%d delivered at shutdown, want 3", n)
	}
	if d := metric(t, reg, "ward_security_webhook_dropped_total"); d != 0 {
		t.Errorf("dropped %v", d)
	}
}

// Failures are logged bounded and never with the URL's path, query or a
// secret.
func TestWebhookFailureLog(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	rcv := newReceiver(t, func(int64, http.ResponseWriter) int { return 400 })
	secret, key := testSecret('s')
	ft := &fakeTime{now: time.Unix(1_800_000_000, 0)}
	w, _ := newTestWebhook(t, rcv.srv.URL+"/hook?token=querysecret", func(o *WebhookOptions) {
		o.Keys, o.Clock, o.Sleep, o.Rate, o.Burst = [][]byte{key}, ft.Now, ft.Sleep, 1000, 1000
		o.Logger = slogTo(&buf, &mu)
	})
	evs := make([]Event, 50)
	for i := range evs {
		evs[i] = Event{Type: TokenLeaked}
	}
	_ = w.Write(context.Background(), evs)
	runAll(w)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if n := strings.Count(out, "webhook delivery failed"); n == 0 || n > webhookLB {
		t.Errorf("%d failure lines for 50 failures, want 1..%d", n, webhookLB)
	}
	for _, leak := range []string{"querysecret", "/hook", secret, base64.StdEncoding.EncodeToString(key)} {
		if strings.Contains(out, leak) {
			t.Errorf("log holds %q:\n%s", leak, out)
		}
	}
}

// The dialer refuses link-local, unspecified and multicast addresses, and
// for plain http anything but loopback; config-time URL rules refuse
// http to another host, user information and literal metadata addresses.
func TestWebhookAddressRules(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		plain bool
		ok    bool
	}{
		{"127.0.0.1:80", true, true}, {"[::1]:80", true, true}, {"10.0.0.1:80", true, false},
		{"203.0.113.7:443", false, true}, {"169.254.169.254:80", false, false}, {"[fe80::1]:443", false, false},
		{"0.0.0.0:443", false, false}, {"224.0.0.1:443", false, false}, {"example.com:443", false, false},
	} {
		if err := dialAllowed(tc.addr, tc.plain); (err == nil) != tc.ok {
			t.Errorf("dialAllowed(%s, plain=%v) = %v, want ok=%v", tc.addr, tc.plain, err, tc.ok)
		}
	}
	for raw, ok := range map[string]bool{
		"https://siem.example/hook": true, "http://127.0.0.1:9000/h": true, "http://localhost:9000/h": false,
		"http://[::1]/h": true, "http://siem.example/hook": false, "http://10.1.2.3/h": false,
		"https://user:pw@siem.example/": false, "https://169.254.169.254/latest": false, "https://[fe80::1]/": false,
		"https://0.0.0.0/": false, "ftp://siem.example/": false, "siem.example/hook": false, "https://siem.example/#x": false,
		"http://127.0.0.1.nip.io/h": false,
	} {
		if err := WebhookURLAllowed(raw); (err == nil) != ok {
			t.Errorf("WebhookURLAllowed(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
	// The default client of an http webhook cannot reach a non-loopback
	// address even when the URL passed (a name that resolves elsewhere).
	c := NewWebhookClient(true)
	req, _ := http.NewRequest("POST", "http://192.0.2.1:1/", nil)
	if _, err := c.Do(req); err == nil || !strings.Contains(err.Error(), ErrWebhookAddress.Error()) {
		t.Errorf("plain http to 192.0.2.1: %v, want %v", err, ErrWebhookAddress)
	}
}

func TestWebhookBackoffBounds(t *testing.T) {
	w, _ := newTestWebhook(t, "https://siem.example/", func(o *WebhookOptions) { o.Backoff, o.MaxBackoff = time.Second, 10*time.Second })
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		for range 20 {
			if d := w.backoff(n+1, 0); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n+1, d, want/2, want)
			}
		}
	}
}

func TestNewWebhookRefuses(t *testing.T) {
	_, key := testSecret('k')
	for name, o := range map[string]WebhookOptions{
		"no key":    {URL: "https://siem.example/"},
		"short key": {URL: "https://siem.example/", Keys: [][]byte{key[:16]}},
		"bad URL":   {URL: "ftp://siem.example/", Keys: [][]byte{key}},
		"relative":  {URL: "/hook", Keys: [][]byte{key}},
	} {
		if _, err := NewWebhook(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// slogTo is a logger writing text lines to b under mu.
func slogTo(b *strings.Builder, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{b, mu}, nil))
}

type lockedWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// endless is a response body that never ends, counting what is read.
type endless struct{ read *atomic.Int64 }

func (e endless) Read(p []byte) (int, error) {
	e.read.Add(int64(len(p)))
	return len(p), nil
}

func (endless) Close() error { return nil }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A receiver's answer is read up to 4 KiB, whatever its length: an
// endless body neither holds the worker nor fills memory.
func TestWebhookReadsBoundedAnswer(t *testing.T) {
	var read atomic.Int64
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: endless{&read}, Request: r}, nil
	})}
	w, reg := newTestWebhook(t, "https://siem.example/hook", func(o *WebhookOptions) { o.Client = client })
	_ = w.Write(context.Background(), []Event{{Type: TokenLeaked}})
	runAll(w)
	if n := read.Load(); n > maxWebhookResponseBody+512 {
		t.Errorf("read %d bytes of the answer, want at most %d", n, maxWebhookResponseBody)
	}
	if metric(t, reg, "ward_security_webhook_delivered_total") != 1 {
		t.Error("not delivered")
	}
}

// Retry-After is delay-seconds or an HTTP-date (RFC 9110 §10.2.3);
// anything else, or a date past, is no wait.
func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "7": 7 * time.Second, "0": 0, "-3": 0, "1.5": 0, "soon": 0, "99999999999": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		if got := retryAfter(h, now); got != want {
			t.Errorf("Retry-After %q = %v, want %v", v, got, want)
		}
	}
}

// An attempt that gets no answer within Timeout fails as timeout (and is
// retried like a network error).
func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer hung.Close()
	defer close(release)
	w, reg := newTestWebhook(t, hung.URL, func(o *WebhookOptions) { o.Timeout, o.MaxAttempts = 20*time.Millisecond, 1 })
	_ = w.Write(context.Background(), []Event{{Type: TokenLeaked}})
	runAll(w)
	if f := metric(t, reg, "ward_security_webhook_failed_total", "reason", "timeout"); f != 1 {
		t.Errorf("failed{reason=timeout} = %v, want 1", f)
	}
}

// TestWebhookMetadataAddressesIPv6: the cloud metadata services a name can
// resolve to over IPv6 are refused as 169.254.169.254 is: AWS's IPv6
// instance metadata (fd00:ec2::254, a unique local address, not link-local)
// and a link-local IPv4 address behind the NAT64 prefixes (64:ff9b::/96,
// 64:ff9b:1::/48), which a NAT64 gateway forwards to the IPv4 address.
func TestWebhookMetadataAddressesIPv6(t *testing.T) {
	for addr, ok := range map[string]bool{
		"[fd00:ec2::254]:443": false, "[64:ff9b::a9fe:a9fe]:443": false, "[64:ff9b:1::a9fe:a9fe]:443": false,
		"[64:ff9b::cb00:7107]:443": true, "[fd00:ec2::253]:443": true, "[2001:db8::1]:443": true,
	} {
		if err := dialAllowed(addr, false); (err == nil) != ok {
			t.Errorf("dialAllowed(%s) = %v, want ok=%v", addr, err, ok)
		}
	}
	if err := dialAllowed("[64:ff9b::7f00:1]:80", true); err == nil {
		t.Error("plain http to 127.0.0.1 through NAT64 passed")
	}
	for _, raw := range []string{"https://[fd00:ec2::254]/latest", "https://[64:ff9b::a9fe:a9fe]/"} {
		if err := WebhookURLAllowed(raw); err == nil {
			t.Errorf("WebhookURLAllowed(%q) passed", raw)
		}
	}
}
