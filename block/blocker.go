package block

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/internal/loglimit"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/secevent"
)

// Config is when the Blocker blocks.
type Config struct {
	// Address and Key are the policies of each kind; a zero Threshold
	// turns the kind off.
	Address, Key Policy
	// Allow are addresses never blocked nor counted (an operator's
	// monitors, a health checker).
	Allow []netip.Prefix
}

// Options configure a Blocker.
type Options struct {
	Store  Store // default a MemoryStore of DefaultMaxKeys
	Config Config
	// Events receives address_blocked, key_blocked and block_lifted.
	Events   *secevent.Emitter
	Clock    func() time.Time // default time.Now
	Logger   *slog.Logger     // default slog.Default()
	Registry prometheus.Registerer
	// Refresh is how often a Blocker on a Snapshotter store (Redis) reads
	// the blocks in force (default DefaultRefresh); SnapshotMax bounds
	// how many it keeps, the latest ending (default DefaultSnapshotMax).
	Refresh     time.Duration
	SnapshotMax int
}

// Blocker is the blocking response. A nil *Blocker blocks nothing and
// counts nothing: callers use it unconditionally.
type Blocker struct {
	store    Store
	cfg      Config
	events   *secevent.Emitter
	clock    func() time.Time
	log      *slog.Logger
	logLim   *loglimit.Limiter // store errors: a dead Redis must not flood the log
	startLim *loglimit.Limiter // block starts: an attack from many addresses neither
	// downUntil (µs) skips the store for StoreBackoff after it failed.
	downUntil atomic.Int64
	started   *prometheus.CounterVec
	refused   *prometheus.CounterVec
	errors    prometheus.Counter
	truncated prometheus.Counter

	// On a Snapshotter store: the blocks in force, checked locally
	// (snapshot.go).
	snapper     Snapshotter
	refresh     time.Duration
	snapMax     int
	snap        atomic.Pointer[snapshot]
	nextRefresh atomic.Int64 // µs
	refreshing  atomic.Bool
	mu          sync.Mutex // publishing a snapshot; pending
	pending     []change   // own changes since the refresh under way began
}

var _ Admin = (*Blocker)(nil)

// New returns a Blocker; it checks the policies of the kinds turned on.
func New(opts Options) (*Blocker, error) {
	for _, x := range []struct {
		name string
		p    Policy
	}{{"address", opts.Config.Address}, {"key", opts.Config.Key}} {
		if x.p.Threshold == 0 {
			continue
		}
		if err := x.p.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", x.name, err)
		}
	}
	if opts.Store == nil {
		opts.Store = NewMemoryStore(0)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &Blocker{store: opts.Store, cfg: opts.Config, events: opts.Events, clock: opts.Clock, log: opts.Logger,
		logLim: loglimit.New(1, 10, opts.Clock), startLim: loglimit.New(secevent.LogRate, secevent.LogBurst, opts.Clock),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ward_blocks_started_total",
			Help: "Blocks started by the blocking response, by kind (address, key)."}, []string{"kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ward_blocked_requests_total",
			Help: "Requests refused because their address or key is blocked, by kind."}, []string{"kind"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_block_store_errors_total",
			Help: "Block checks, strikes and snapshot refreshes the store could not answer (the request went on: blocking fails open)."}),
	}
	b.truncated = prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_block_snapshot_truncated_total",
		Help: "Blocks in force left out of a refreshed snapshot because more than its bound were in force."})
	if sn, ok := opts.Store.(Snapshotter); ok {
		b.snapper, b.refresh, b.snapMax = sn, opts.Refresh, opts.SnapshotMax
		if b.refresh <= 0 {
			b.refresh = DefaultRefresh
		}
		if b.snapMax <= 0 {
			b.snapMax = DefaultSnapshotMax
		}
	}
	if opts.Registry != nil {
		opts.Registry.MustRegister(b.started, b.refused, b.errors, b.truncated)
	}
	return b, nil
}

// allowed reports whether addr is on the allow-list.
func (b *Blocker) allowed(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range b.cfg.Allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Check reports whether the request's address or DPoP key (jkt, "" when
// none is known yet) is blocked, and the block. On a Snapshotter store
// (Redis) it asks the local snapshot, read again once a Refresh by the
// request that finds it due; else it asks the store. It fails open: a
// store that cannot answer (Redis down) blocks nothing new (a failed
// refresh keeps the last snapshot); the error is counted and logged, and
// the store is left alone for StoreBackoff, so that an outage adds one
// timeout a second to requests, not one to each (docs/EVENTS.md:
// blocking is a response; replay checks and rate limits stay closed).
func (b *Blocker) Check(ctx context.Context, addr netip.Addr, jkt string) (Block, bool) {
	if b == nil {
		return Block{}, false
	}
	now := b.clock()
	if b.snapper != nil {
		b.maybeRefresh(ctx, now)
	}
	if b.cfg.Address.Threshold > 0 && addr.IsValid() && !b.allowed(addr) {
		if blk, ok := b.check(ctx, Address, ratelimit.IPKey(addr.Unmap()), now); ok {
			return blk, true
		}
	}
	if b.cfg.Key.Threshold > 0 && jkt != "" {
		if blk, ok := b.check(ctx, Key, jkt, now); ok {
			return blk, true
		}
	}
	return Block{}, false
}

// check asks the snapshot on a Snapshotter store, else the store.
func (b *Blocker) check(ctx context.Context, kind Kind, value string, now time.Time) (Block, bool) {
	var until time.Time
	if b.snapper != nil {
		until = b.lookup(kind, value, now)
	} else if !b.down(now) {
		var err error
		if until, err = b.store.Check(ctx, kind, value, now); err != nil {
			b.storeError("check", err, now)
			return Block{}, false
		}
	}
	if until.IsZero() {
		return Block{}, false
	}
	b.refused.WithLabelValues(string(kind)).Inc()
	return Block{Kind: kind, Value: value, Until: until}, true
}

// StoreBackoff is how long the Blocker leaves a failed store alone.
const StoreBackoff = time.Second

// down reports whether the store failed less than StoreBackoff ago.
func (b *Blocker) down(now time.Time) bool { return now.UnixMicro() < b.downUntil.Load() }

func (b *Blocker) storeError(op string, err error, now time.Time) {
	b.downUntil.Store(now.Add(StoreBackoff).UnixMicro())
	b.errors.Inc()
	if ok, suppressed := b.logLim.Allow(op); ok {
		b.log.Error("block store unavailable; not blocking (fail open)", "op", op, "err", err, "suppressed", suppressed)
	}
}

// Offence is one refusal seen by the gateway, /token or /par.
type Offence struct {
	Addr netip.Addr
	// JKT is the DPoP key the refusal is attributed to: at the gateway,
	// the key a verified access token is bound to (resource.Thumbprint),
	// never the key of a proof that did not verify; "" when none.
	JKT string
	// Reason is the refusal reason (the rejection metric's label).
	Reason   string
	Route    string // for the event
	ClientID string
}

// Strike records o when its reason counts (Counts) and the address is
// not on the allow-list, and starts a block when a threshold is reached:
// the event address_blocked or key_blocked is emitted. It never fails: a
// store that cannot answer is counted and logged.
func (b *Blocker) Strike(ctx context.Context, o Offence) {
	if b == nil || !Counts(o.Reason) {
		return
	}
	now := b.clock()
	ctx = context.WithoutCancel(ctx) // a caller gone meanwhile still offended
	if b.cfg.Address.Threshold > 0 && o.Addr.IsValid() && !b.allowed(o.Addr) {
		b.strike(ctx, Address, ratelimit.IPKey(o.Addr.Unmap()), now, b.cfg.Address, o)
	}
	if b.cfg.Key.Threshold > 0 && o.JKT != "" && len(o.JKT) <= MaxValue {
		b.strike(ctx, Key, o.JKT, now, b.cfg.Key, o)
	}
}

func (b *Blocker) strike(ctx context.Context, kind Kind, value string, now time.Time, p Policy, o Offence) {
	if b.down(now) {
		return
	}
	blk, started, err := b.store.Strike(ctx, kind, value, now, p)
	if err != nil {
		b.storeError("strike", err, now)
		return
	}
	if !started {
		return
	}
	if b.snapper != nil {
		b.apply(change{key: snapKey(kind, value), until: blk.Until})
	}
	b.started.WithLabelValues(string(kind)).Inc()
	if ok, suppressed := b.startLim.Allow(string(kind)); ok {
		b.log.Warn("security response: blocked", "kind", kind, "value", value, "until", blk.Until,
			"offences", blk.Offences, "reason", o.Reason, "suppressed", suppressed)
	}
	ev := secevent.Event{Type: secevent.AddressBlocked, ClientAddr: o.Addr.String(), Route: o.Route, ClientID: o.ClientID,
		Reason: fmt.Sprintf("%s: blocked %s (offence %d)", o.Reason, blk.Until.Sub(now).Round(time.Second), blk.Offences)}
	if kind == Key {
		ev.Type, ev.JKT = secevent.KeyBlocked, value
	}
	b.events.Emit(ev)
}

// List implements Admin.
func (b *Blocker) List(ctx context.Context) ([]Block, error) {
	if b == nil {
		return nil, nil
	}
	return b.store.List(ctx, b.clock())
}

// Lift implements Admin: it ends the block and emits block_lifted (when
// one was in force).
func (b *Blocker) Lift(ctx context.Context, kind Kind, value string) (bool, error) {
	if b == nil {
		return false, nil
	}
	lifted, err := b.store.Lift(ctx, kind, value, b.clock())
	if err == nil && b.snapper != nil {
		b.apply(change{key: snapKey(kind, value)})
	}
	if err != nil || !lifted {
		return lifted, err
	}
	b.log.Info("security response: block lifted", "kind", kind, "value", value)
	ev := secevent.Event{Type: secevent.BlockLifted, Reason: "lifted by an admin"}
	if kind == Key {
		ev.JKT = value
	} else {
		ev.ClientAddr = value
	}
	b.events.Emit(ev)
	return true, nil
}

// RetryAfter is the whole seconds until blk ends, at least 1.
func (blk Block) RetryAfter(now time.Time) int {
	return max(1, int((blk.Until.Sub(now)+time.Second-1)/time.Second))
}

// Now is the Blocker's clock (for RetryAfter).
func (b *Blocker) Now() time.Time {
	if b == nil {
		return time.Now()
	}
	return b.clock()
}
