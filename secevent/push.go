package secevent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/internal/loglimit"
	"github.com/wardauth/ward/internal/strictjson"
)

// Push defaults (events.push).
const (
	DefaultPushQueue      = 1024
	DefaultPushMaxRetry   = 10 * time.Minute
	DefaultPushMinBackoff = 100 * time.Millisecond
	DefaultPushMaxBackoff = 30 * time.Second
	pushTimeout           = 10 * time.Second
	pushFlush             = 5 * time.Second
)

// Push results, the values of ward_security_event_pushes_total{result}.
const (
	PushDelivered = "delivered"  // the receiver answered 202
	PushRejected  = "rejected"   // the receiver refused the SET (400, 401, 403): not retried
	PushRetried   = "retried"    // an attempt failed on the way (transport, 5xx, 429): retried
	PushQueueFull = "queue_full" // dropped: the push queue was full
	PushExpired   = "expired"    // dropped: retried for MaxRetry, or queued at shutdown
	PushLimited   = "limited"    // not pushed: past the per-type bound (never a critical event)
)

// PushOptions configure a Pusher.
type PushOptions struct {
	// URL is the receiver's push endpoint (RFC 8935 §2).
	URL string
	// Signer signs each SET.
	Signer *SETSigner
	// TokenIssuer is the issuer of the tokens whose families events name
	// (the gateway's issuer), sent as token_iss.
	TokenIssuer string
	// Client sends the SETs; default one with a 10 s timeout.
	Client *http.Client
	// Queue bounds the SETs waiting; default DefaultPushQueue.
	Queue int
	// MaxRetry is how long one event is retried; default
	// DefaultPushMaxRetry. MinBackoff and MaxBackoff bound the wait
	// between attempts (doubling).
	MaxRetry, MinBackoff, MaxBackoff time.Duration
	// Limit, when set, bounds the non-critical events of each type; a
	// critical event (token_leaked) is always pushed.
	Limit *loglimit.Limiter
	// Clock, Logger, Registry: defaults time.Now, slog.Default(), none.
	Clock    func() time.Time
	Logger   *slog.Logger
	Registry prometheus.Registerer
}

// Pusher is a Sink that delivers events as SETs to the authorization
// server (RFC 8935): Write queues them without waiting, and Run sends them
// one at a time, retrying with a doubling backoff on failures on the way.
// What it gives up on is counted and logged, never dropped silently.
type Pusher struct {
	opts    PushOptions
	q       chan Event
	results *prometheus.CounterVec
	logs    *loglimit.Limiter
	counts  [6]atomic.Uint64
	// mu orders Write against the end of Run: once stopped, an event
	// written is counted as expired, never left in a queue nobody reads.
	mu      sync.Mutex
	stopped bool
}

var _ Sink = (*Pusher)(nil)

var pushResults = []string{PushDelivered, PushRejected, PushRetried, PushQueueFull, PushExpired, PushLimited}

// NewPusher returns a Pusher; start its worker with Run.
func NewPusher(opts PushOptions) *Pusher {
	opts.setDefaults()
	p := &Pusher{opts: opts, q: make(chan Event, opts.Queue), logs: loglimit.New(1, 10, opts.Clock),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ward_security_event_pushes_total",
			Help: "Security events pushed to the authorization server as SETs, by result."}, []string{"result"})}
	for _, r := range pushResults {
		p.results.WithLabelValues(r)
	}
	if opts.Registry != nil {
		opts.Registry.MustRegister(p.results)
	}
	return p
}

func (o *PushOptions) setDefaults() {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: pushTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Queue <= 0 {
		o.Queue = DefaultPushQueue
	}
	if o.MaxRetry <= 0 {
		o.MaxRetry = DefaultPushMaxRetry
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultPushMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultPushMaxBackoff, o.MinBackoff)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Count is how many events ended with result (a Push* constant).
func (p *Pusher) Count(result string) uint64 {
	for i, r := range pushResults {
		if r == result {
			return p.counts[i].Load()
		}
	}
	return 0
}

func (p *Pusher) count(result string, ev *Event, detail string) {
	for i, r := range pushResults {
		if r == result {
			p.counts[i].Add(1)
		}
	}
	p.results.WithLabelValues(result).Inc()
	if result == PushDelivered || result == PushLimited {
		return
	}
	if ok, suppressed := p.logs.Allow(result); ok {
		p.opts.Logger.Warn("secevent: a security event was not pushed", "result", result,
			"event_type", string(ev.Type), "family_id", ev.FamilyID, "detail", detail, "suppressed", suppressed)
	}
}

// Write implements Sink: it queues the events and returns at once; a full
// queue drops an event, counted and logged, as does a Pusher whose Run
// has returned.
func (p *Pusher) Write(_ context.Context, events []Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range events {
		ev := &events[i]
		if ev.Severity != Critical && p.opts.Limit != nil {
			if ok, _ := p.opts.Limit.Allow(string(ev.Type)); !ok {
				p.count(PushLimited, ev, "")
				continue
			}
		}
		if p.stopped {
			p.count(PushExpired, ev, "written after shutdown")
			continue
		}
		select {
		case p.q <- *ev:
		default:
			p.count(PushQueueFull, ev, "")
		}
	}
	return nil
}

// Run pushes queued events until ctx ends, then tries once more each
// event still queued (within 5 s) and counts the rest as expired.
func (p *Pusher) Run(ctx context.Context) error {
	for {
		select {
		case ev := <-p.q:
			p.deliver(ctx, &ev)
		case <-ctx.Done():
			p.flush()
			p.mu.Lock()
			p.stopped = true
			p.mu.Unlock()
			p.flush() // what was written during the first flush
			return nil
		}
	}
}

// flush sends what is queued at shutdown, one attempt each.
func (p *Pusher) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), pushFlush)
	defer cancel()
	for {
		select {
		case ev := <-p.q:
			if ctx.Err() != nil {
				p.count(PushExpired, &ev, "shutdown")
				continue
			}
			if retry, err := p.attempt(ctx, &ev); retry {
				p.count(PushExpired, &ev, err.Error())
			}
		default:
			return
		}
	}
}

// deliver sends ev until it is delivered, refused, or MaxRetry has passed
// (or ctx has ended: no new attempt is made then). An attempt under way
// is not cut short by ctx, only by the client's timeout, so an event
// taken from the queue as the shutdown starts is still sent.
func (p *Pusher) deliver(ctx context.Context, ev *Event) {
	deadline := p.opts.Clock().Add(p.opts.MaxRetry)
	wait := p.opts.MinBackoff
	actx := context.WithoutCancel(ctx)
	for {
		retry, err := p.attempt(actx, ev)
		if !retry {
			return
		}
		if ctx.Err() != nil || p.opts.Clock().Add(wait).After(deadline) {
			p.count(PushExpired, ev, err.Error())
			return
		}
		p.count(PushRetried, ev, err.Error())
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait = min(2*wait, p.opts.MaxBackoff)
	}
}

// errPushStatus is an answer worth retrying (5xx, 429).
var errPushStatus = errors.New("secevent: the receiver is unavailable")

// attempt signs ev afresh (a new iat and jti) and POSTs it once; it
// reports whether to retry.
func (p *Pusher) attempt(ctx context.Context, ev *Event) (retry bool, err error) {
	set, err := p.opts.Signer.Sign(*ev, p.opts.TokenIssuer, p.opts.Clock())
	if err != nil {
		p.count(PushRejected, ev, "cannot sign: "+err.Error())
		return false, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.opts.URL, strings.NewReader(set))
	if err != nil {
		p.count(PushRejected, ev, err.Error())
		return false, nil
	}
	req.Header.Set("Content-Type", SETMediaType)
	req.Header.Set("Accept", "application/json")
	resp, err := p.opts.Client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		p.count(PushDelivered, ev, "")
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("%w: HTTP %d", errPushStatus, resp.StatusCode)
	}
	p.count(PushRejected, ev, fmt.Sprintf("HTTP %d %s", resp.StatusCode, pushErrCode(body)))
	return false, nil
}

// pushErrCode is the err of an RFC 8935 §2.3 error body, when it is one.
func pushErrCode(body []byte) string {
	var e struct {
		Err string `json:"err"`
	}
	if strictjson.Unmarshal(body, &e) != nil || len(e.Err) > 64 {
		return ""
	}
	return e.Err
}

// Deliver writes ev through the emitter's sinks at once, on the caller's
// goroutine, and returns their errors: the authorization server answers
// a pushed SET only once its event is stored and its response applied,
// so that the sender retries what failed (RFC 8935 §2.3). It fills,
// sanitizes and counts ev as Emit does. A nil Emitter does nothing.
func (e *Emitter) Deliver(ctx context.Context, ev Event) error {
	if e == nil {
		return nil
	}
	if ev.Time.IsZero() {
		ev.Time = e.opts.Clock()
	}
	if ev.Severity == "" {
		ev.Severity = ev.Type.Severity()
	}
	if ev.Instance == "" {
		ev.Instance = e.opts.Instance
	}
	if n := ev.Sanitize(); n > 0 {
		e.metrics.redacted.Add(float64(n))
	}
	e.metrics.emitted.WithLabelValues(string(ev.Type)).Inc()
	var errs []error
	for _, s := range e.opts.Sinks {
		if err := s.Write(ctx, []Event{ev}); err != nil {
			e.metrics.sinkErrors.Inc()
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
