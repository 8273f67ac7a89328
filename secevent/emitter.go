package secevent

import (
	"context"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sink receives events from the Emitter's worker, a batch at a time, in
// the order they were emitted. Write may block (a database write); it
// never runs on a request's goroutine.
type Sink interface {
	Write(ctx context.Context, events []Event) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, events []Event) error

// Write calls f.
func (f SinkFunc) Write(ctx context.Context, events []Event) error { return f(ctx, events) }

// Options configure an Emitter.
type Options struct {
	// Sinks receive every event, each batch in this order.
	Sinks []Sink
	// Queue is how many events wait for the worker; default 4096. A full
	// queue drops the event and counts it.
	Queue int
	// Batch is the most events handed to a sink at once; default 256.
	Batch int
	// Instance fills Event.Instance when empty; default the host name.
	Instance string
	// Clock fills Event.Time when zero; default time.Now.
	Clock func() time.Time
	// Logger reports sink errors; default slog.Default().
	Logger *slog.Logger
	// Registry receives the metrics (docs/EVENTS.md); optional.
	Registry prometheus.Registerer
}

// Emitter queues events and hands them to sinks from one worker (Run).
// Emit never blocks. A nil *Emitter is valid and drops everything
// silently: code emits unconditionally and events are off when no
// Emitter was configured.
type Emitter struct {
	opts    Options
	q       chan Event
	dropped atomic.Uint64
	metrics *metrics
	once    *throttle // EmitOnce (throttle.go)
}

type metrics struct {
	emitted    *prometheus.CounterVec
	dropped    prometheus.Counter
	sinkErrors prometheus.Counter
	redacted   prometheus.Counter
}

// NewEmitter returns an Emitter; start its worker with Run.
func NewEmitter(opts Options) *Emitter {
	if opts.Queue <= 0 {
		opts.Queue = 4096
	}
	if opts.Batch <= 0 {
		opts.Batch = 256
	}
	if opts.Instance == "" {
		opts.Instance, _ = os.Hostname()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	e := &Emitter{opts: opts, q: make(chan Event, opts.Queue), metrics: newMetrics(), once: newThrottle(opts.Clock)}
	if opts.Registry != nil {
		opts.Registry.MustRegister(e.metrics.emitted, e.metrics.dropped, e.metrics.sinkErrors, e.metrics.redacted)
	}
	return e
}

func newMetrics() *metrics {
	return &metrics{
		emitted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ward_security_events_total",
			Help: "Security events emitted, by type."}, []string{"type"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_security_events_dropped_total",
			Help: "Security events dropped because the queue was full."}),
		sinkErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_security_event_sink_errors_total",
			Help: "Batches of security events a sink failed to write."}),
		redacted: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_security_event_fields_redacted_total",
			Help: "Event fields stripped because they looked like a token."}),
	}
}

// Emit queues ev: it fills Time, Severity and Instance when empty,
// sanitizes it (Event.Sanitize) and returns at once; when the queue is
// full it drops ev and counts it.
func (e *Emitter) Emit(ev Event) {
	if e == nil {
		return
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
	select {
	case e.q <- ev:
	default:
		e.dropped.Add(1)
		e.metrics.dropped.Inc()
	}
}

// Dropped is how many events a full queue dropped.
func (e *Emitter) Dropped() uint64 {
	if e == nil {
		return 0
	}
	return e.dropped.Load()
}

// Run hands queued events to the sinks until ctx ends, then writes what
// is queued still (within 5 s) and returns nil.
//
// Batches are written on a context that the shutdown does not cancel, so
// an event taken from the queue as ctx ends is still written; a sink
// bounds its own writes (the store's per-call deadline).
func (e *Emitter) Run(ctx context.Context) error {
	batch := make([]Event, 0, e.opts.Batch)
	wctx := context.WithoutCancel(ctx)
	for {
		select {
		case ev := <-e.q:
			batch = e.fill(append(batch[:0], ev))
			e.write(wctx, batch)
		case <-ctx.Done():
			e.flush()
			return nil
		}
	}
}

// fill adds what is queued already, up to a batch.
func (e *Emitter) fill(batch []Event) []Event {
	for len(batch) < e.opts.Batch {
		select {
		case ev := <-e.q:
			batch = append(batch, ev)
		default:
			return batch
		}
	}
	return batch
}

// flush writes the events queued at shutdown.
func (e *Emitter) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		batch := e.fill(nil)
		if len(batch) == 0 {
			return
		}
		e.write(ctx, batch)
	}
}

func (e *Emitter) write(ctx context.Context, batch []Event) {
	for _, s := range e.opts.Sinks {
		if err := s.Write(ctx, batch); err != nil {
			e.metrics.sinkErrors.Inc()
			e.opts.Logger.Error("secevent: a sink failed to write security events", "events", len(batch), "err", err)
		}
	}
}
