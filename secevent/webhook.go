package secevent

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/internal/loglimit"
)

// DefaultWebhookTypes are the events a webhook receives when its Types
// are not set: the ones a person should hear about at once.
var DefaultWebhookTypes = []Type{TokenLeaked, RefreshReplayed, CodeReplayed, AccountLocked, AddressBlocked, KeyBlocked}

// Webhook defaults (WebhookOptions, events.webhooks in docs/CONFIG.md).
const (
	DefaultWebhookRate        = 10               // deliveries a second
	DefaultWebhookBurst       = 20               // deliveries at once
	DefaultWebhookQueue       = 1000             // events waiting
	DefaultWebhookTimeout     = 10 * time.Second // one attempt
	DefaultWebhookAttempts    = 5                // first try included
	DefaultWebhookBackoff     = time.Second      // before the first retry
	DefaultWebhookMaxBackoff  = time.Minute      // cap, Retry-After included
	DefaultWebhookDrain       = 5 * time.Second  // at shutdown
	maxWebhookResponseBody    = 4 << 10          // read of a response, then closed
	webhookLogRate, webhookLB = 1, 10            // failure lines a second, at once
)

// WebhookOptions configure a Webhook; zero values take the defaults.
type WebhookOptions struct {
	// Name labels the webhook's metrics and log lines (never the URL,
	// which may hold a credential).
	Name string
	// URL receives a POST a delivery. The caller checks it
	// (WebhookURLAllowed: https, or http to a loopback IP); the dialer refuses
	// link-local and unspecified addresses, and for http anything but
	// loopback, whatever the name resolves to.
	URL string
	// Keys are the HMAC keys (ParseWebhookSecret); each signs every
	// delivery, the current one first, so a receiver still holding the
	// previous secret verifies during a rotation. At least one.
	Keys [][]byte
	// Types filters the events (default DefaultWebhookTypes);
	// MinSeverity drops those below it (default: none dropped).
	Types       []Type
	MinSeverity Severity
	// Rate and Burst bound the requests to the receiver, retries
	// included: Burst at once, Rate a second after that.
	Rate  float64
	Burst int
	// Queue bounds the events waiting; a full queue drops and counts.
	Queue int
	// Timeout bounds one attempt, response included.
	Timeout time.Duration
	// MaxAttempts, Backoff, MaxBackoff: the retry policy (exponential
	// with jitter, capped; a Retry-After is honoured up to MaxBackoff).
	MaxAttempts int
	Backoff     time.Duration
	MaxBackoff  time.Duration
	// Drain bounds the delivery of what is queued at shutdown.
	Drain time.Duration
	// Client sends the requests; default NewWebhookClient(URL). Its
	// redirects are never followed, whatever its CheckRedirect.
	Client *http.Client
	// Logger reports failures, bounded; default slog.Default().
	Logger *slog.Logger
	// Registry receives the metrics; optional.
	Registry prometheus.Registerer
	// Clock and Sleep are for tests: the timestamp's clock, and the
	// waits between attempts and for the rate limit.
	Clock func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Webhook is a Sink that POSTs each event it accepts, signed as Standard
// Webhooks has it, to one URL from its own worker (Run). Write never
// blocks: it filters and queues; a full queue drops and counts.
type Webhook struct {
	opts    WebhookOptions
	url     *url.URL
	client  *http.Client
	q       chan Event
	limit   *bucket
	logs    *loglimit.Limiter
	metrics *webhookMetrics
}

var _ Sink = (*Webhook)(nil)

// ErrWebhookOptions reports WebhookOptions NewWebhook cannot use.
var ErrWebhookOptions = errors.New("secevent: invalid webhook options")

// NewWebhook returns a Webhook; start its worker with Run.
func NewWebhook(opts WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: URL must be an absolute http(s) URL", ErrWebhookOptions)
	}
	if len(opts.Keys) == 0 {
		return nil, fmt.Errorf("%w: no key", ErrWebhookOptions)
	}
	for _, k := range opts.Keys {
		if len(k) < MinWebhookSecret {
			return nil, fmt.Errorf("%w: a key shorter than %d bytes", ErrWebhookOptions, MinWebhookSecret)
		}
	}
	opts = opts.withDefaults()
	client := opts.Client
	if client == nil {
		client = NewWebhookClient(u.Scheme == "http")
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	w := &Webhook{opts: opts, url: u, client: &c, q: make(chan Event, opts.Queue),
		limit: newBucket(opts.Rate, opts.Burst, opts.Clock()),
		logs:  loglimit.New(webhookLogRate, webhookLB, opts.Clock)}
	w.metrics = newWebhookMetrics(opts.Name, func() float64 { return float64(len(w.q)) })
	if opts.Registry != nil {
		if err := w.metrics.register(opts.Registry); err != nil {
			return nil, fmt.Errorf("%w: metrics: %w", ErrWebhookOptions, err)
		}
	}
	return w, nil
}

func (o WebhookOptions) withDefaults() WebhookOptions {
	o.Types = cmpOr(o.Types, DefaultWebhookTypes)
	o.Rate = cmpOr(o.Rate, DefaultWebhookRate)
	o.Burst = cmpOr(o.Burst, DefaultWebhookBurst)
	o.Queue = cmpOr(o.Queue, DefaultWebhookQueue)
	o.Timeout = cmpOr(o.Timeout, DefaultWebhookTimeout)
	o.MaxAttempts = cmpOr(o.MaxAttempts, DefaultWebhookAttempts)
	o.Backoff = cmpOr(o.Backoff, DefaultWebhookBackoff)
	o.MaxBackoff = cmpOr(o.MaxBackoff, DefaultWebhookMaxBackoff)
	o.Drain = cmpOr(o.Drain, DefaultWebhookDrain)
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Name == "" {
		o.Name = "webhook"
	}
	return o
}

// cmpOr is v, or def when v is zero or negative (nil for a slice).
func cmpOr[T int | float64 | time.Duration | []Type](v, def T) T {
	switch x := any(v).(type) {
	case []Type:
		if x == nil {
			return def
		}
		return v
	case int:
		if x <= 0 {
			return def
		}
	case float64:
		if x <= 0 {
			return def
		}
	case time.Duration:
		if x <= 0 {
			return def
		}
	}
	return v
}

// Write implements Sink: it queues the events the webhook takes and
// returns at once; a full queue drops the event and counts it.
func (w *Webhook) Write(_ context.Context, events []Event) error {
	for _, ev := range events {
		if !w.wants(ev) {
			continue
		}
		select {
		case w.q <- ev:
		default:
			w.metrics.dropped.Inc()
			w.logFailure("queue_full", "a full queue dropped a security event", "event_type", string(ev.Type))
		}
	}
	return nil
}

// wants reports whether ev passes the type and severity filters.
func (w *Webhook) wants(ev Event) bool {
	return slices.Contains(w.opts.Types, ev.Type) && severityRank(ev.Severity) >= severityRank(w.opts.MinSeverity)
}

func severityRank(s Severity) int {
	switch s {
	case Warning:
		return 1
	case Critical:
		return 2
	}
	return 0
}

// Run delivers queued events until ctx ends, then what is queued still
// within the Drain bound; what is left after it is dropped and counted.
// An attempt in flight when ctx ends is abandoned and its event delivered
// again (same webhook-id) during the drain.
func (w *Webhook) Run(ctx context.Context) error {
	var pending *Event
	for pending == nil {
		select {
		case ev := <-w.q:
			if !w.deliver(ctx, ev) {
				pending = &ev
			}
		case <-ctx.Done():
			pending = &Event{}
		}
	}
	w.drain(context.WithoutCancel(ctx), pending)
	return nil
}

// drain delivers pending (when it has a type) and the queue within Drain.
func (w *Webhook) drain(ctx context.Context, pending *Event) {
	ctx, cancel := context.WithTimeout(ctx, w.opts.Drain)
	defer cancel()
	if pending.Type != "" && !w.deliver(ctx, *pending) {
		w.metrics.dropped.Inc()
	}
	for {
		select {
		case ev := <-w.q:
			if ctx.Err() != nil || !w.deliver(ctx, ev) {
				w.metrics.dropped.Inc()
			}
		default:
			return
		}
	}
}

// webhookPayload is the body of a delivery (docs/EVENTS.md, "Webhooks").
type webhookPayload struct {
	Type      Type        `json:"type"`
	Timestamp string      `json:"timestamp"`
	Data      WebhookData `json:"data"`
}

// WebhookData is the "data" member of a delivery's body: the event's
// fields under their log keys (docs/EVENTS.md); empty ones are left out.
type WebhookData struct {
	Severity   Severity `json:"severity"`
	Instance   string   `json:"instance,omitempty"`
	ClientID   string   `json:"client_id,omitempty"`
	Subject    string   `json:"sub,omitempty"`
	JKT        string   `json:"jkt,omitempty"`
	FamilyID   string   `json:"family_id,omitempty"`
	ClientAddr string   `json:"ip,omitempty"`
	Route      string   `json:"route,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	Actor      string   `json:"actor,omitempty"`
}

// webhookBody is ev's JSON body. ev is sanitized again: a Webhook may be
// given events that did not come through an Emitter.
func webhookBody(ev Event) []byte {
	ev.Sanitize()
	b, _ := json.Marshal(webhookPayload{Type: ev.Type, Timestamp: ev.Time.UTC().Format(time.RFC3339Nano),
		Data: WebhookData{Severity: ev.Severity, Instance: ev.Instance, ClientID: ev.ClientID, Subject: ev.Subject,
			JKT: ev.JKT, FamilyID: ev.FamilyID, ClientAddr: ev.ClientAddr, Route: ev.Route, Reason: ev.Reason, Actor: ev.Actor}})
	return b // a struct of strings always marshals
}

// newWebhookID is a delivery's webhook-id: "evt_" and 128 random bits.
func newWebhookID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return "evt_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// logFailure writes a bounded line (one bucket a reason); it never names
// the URL or a secret.
func (w *Webhook) logFailure(reason, msg string, args ...any) {
	ok, suppressed := w.logs.Allow(reason)
	if !ok {
		return
	}
	args = append(args, "webhook", w.opts.Name, "host", w.url.Host, "reason", reason)
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	w.opts.Logger.Warn("secevent: "+msg, args...)
}
