package secevent

import (
	"context"
	"time"

	"github.com/wardauth/ward/internal/loglimit"
	"github.com/wardauth/ward/ratelimit"
)

// Bounds of EmitOnce: one event per (type, key) per OncePeriod, and at
// most OnceRate a second of one type after a burst of OnceBurst.
const (
	OncePeriod = time.Minute
	OnceRate   = 10
	OnceBurst  = 100
	// onceKeys bounds the keys remembered (ratelimit.MemoryStore: the
	// least useful is forgotten first, which at worst emits an event
	// early).
	onceKeys = 1 << 14
)

// throttle decides EmitOnce: a GCRA allowance of one event per key per
// OncePeriod, then a token bucket per type over all keys.
type throttle struct {
	keys  *ratelimit.Limiter
	types *loglimit.Limiter
}

func newThrottle(clock func() time.Time) *throttle {
	l, _ := ratelimit.New(ratelimit.NewMemoryStore(onceKeys), ratelimit.Limit{Rate: 1, Period: OncePeriod, Burst: 1},
		ratelimit.WithClock(clock))
	return &throttle{keys: l, types: loglimit.New(OnceRate, OnceBurst, clock)}
}

// EmitOnce emits ev unless an event of its type and key was emitted less
// than OncePeriod ago, or OnceRate a second of its type are spent: for
// events a flood repeats (rate_limited: one a refused request), so that
// the flood cannot fill the queue nor crowd out other events. key names
// what repeats (a tier and its key); it is never stored.
func (e *Emitter) EmitOnce(key string, ev Event) {
	if e == nil {
		return
	}
	res, err := e.once.keys.Allow(context.Background(), string(ev.Type)+"\x00"+key)
	if err != nil || !res.Allowed {
		return
	}
	if ok, _ := e.once.types.Allow(string(ev.Type)); !ok {
		return
	}
	e.Emit(ev)
}
