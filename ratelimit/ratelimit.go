package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors.
var (
	// ErrInvalidLimit: a Limit with a non-positive rate, period or burst,
	// or an emission interval under a microsecond.
	ErrInvalidLimit = errors.New("ratelimit: invalid limit")
	// ErrUnavailable wraps every error of a store that cannot be reached
	// (Redis down or slow). Callers answer 503, never 5xx-as-crash.
	ErrUnavailable = errors.New("ratelimit: store unavailable")
)

// Limit is a GCRA policy: Rate requests per Period on average, and at most
// Burst requests at once after a quiet time. One request is allowed every
// Period/Rate (the emission interval); Burst of them may come together.
type Limit struct {
	Rate   int
	Period time.Duration
	// Burst defaults to Rate when zero.
	Burst int
}

// PerSecond returns a Limit of n requests a second with a burst of n.
func PerSecond(n int) Limit { return Limit{Rate: n, Period: time.Second} }

// PerMinute returns a Limit of n requests a minute with a burst of n.
func PerMinute(n int) Limit { return Limit{Rate: n, Period: time.Minute} }

// Validate reports whether l can be enforced.
func (l Limit) Validate() error {
	switch {
	case l.Rate <= 0 || l.Period <= 0 || l.Burst < 0:
		return fmt.Errorf("%w: rate and period must be positive, burst not negative", ErrInvalidLimit)
	case l.Period/time.Duration(l.Rate) < time.Microsecond:
		return fmt.Errorf("%w: more than one request a microsecond", ErrInvalidLimit)
	case l.Burst > 1<<20:
		return fmt.Errorf("%w: burst over 1048576", ErrInvalidLimit)
	}
	return nil
}

func (l Limit) burst() int {
	if l.Burst == 0 {
		return l.Rate
	}
	return l.Burst
}

// interval is the emission interval in microseconds, the unit every store
// works in (so that Redis's Lua doubles stay exact: 2^53 µs is 285 years).
func (l Limit) interval() int64 { return (l.Period / time.Duration(l.Rate)).Microseconds() }

// tolerance is how far ahead of now the theoretical arrival time may run:
// Burst intervals.
func (l Limit) tolerance() int64 { return l.interval() * int64(l.burst()) }

// Window is the time an empty allowance takes to refill: Burst emission
// intervals. It is the w of RateLimit-Policy.
func (l Limit) Window() time.Duration {
	return time.Duration(l.tolerance()) * time.Microsecond
}

// Result is one decision.
type Result struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Limit is the quota: Limit.Burst requests in Limit.Window.
	Limit Limit
	// Remaining is how many more requests would be allowed right now.
	Remaining int
	// Reset is the time until the allowance is full again.
	Reset time.Duration
	// RetryAfter, when not allowed, is the time until this request would
	// be allowed; zero when allowed.
	RetryAfter time.Duration
}

// RetryAfterSeconds is RetryAfter rounded up to whole seconds (at least 1
// when not allowed), the value of the Retry-After header.
func (r Result) RetryAfterSeconds() int {
	if r.Allowed {
		return 0
	}
	return max(1, ceilSeconds(r.RetryAfter))
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// decide is GCRA, shared by every store (the Redis script is its
// transcription). tat is the stored theoretical arrival time (0 when none),
// now and the result in microseconds. It returns whether the request is
// allowed and the TAT to store (unchanged when refused).
func decide(tat, now int64, l Limit, cost int) (bool, int64) {
	tat = max(tat, now)
	next := tat + l.interval()*int64(cost)
	if next-now > l.tolerance() {
		return false, tat
	}
	return true, next
}

// resultOf builds the Result of a decision from the TAT after it.
func resultOf(allowed bool, tat, now int64, l Limit, cost int) Result {
	t, tol := l.interval(), l.tolerance()
	tat = max(tat, now)
	r := Result{Allowed: allowed, Limit: l, Reset: time.Duration(tat-now) * time.Microsecond}
	r.Remaining = int((tol - (tat - now)) / t)
	if r.Remaining < 0 {
		r.Remaining = 0
	}
	if !allowed {
		wait := tat + t*int64(cost) - tol - now
		r.RetryAfter = time.Duration(max(wait, 1)) * time.Microsecond
	}
	return r
}

// micros is t in microseconds since the Unix epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

// Store keeps the theoretical arrival time of each key and applies GCRA
// to it atomically. MemoryStore and RedisStore pass the same conformance
// suite; now comes from the caller, so an injected clock drives both.
type Store interface {
	// Take decides whether cost requests of key are allowed at now under
	// l, and records them when they are. An error wraps ErrUnavailable.
	Take(ctx context.Context, key string, now time.Time, l Limit, cost int) (Result, error)
}

// Limiter applies one Limit to many keys. It is safe for concurrent use.
type Limiter struct {
	store Store
	limit Limit
	name  string
	clock func() time.Time
}

// Option configures a Limiter. Options are sealed: only this package makes
// them.
type Option interface{ apply(*Limiter) }

type optionFunc func(*Limiter)

func (f optionFunc) apply(l *Limiter) { f(l) }

// WithClock sets the clock (default time.Now), for tests.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(l *Limiter) { l.clock = now })
}

// WithName names the policy in the RateLimit headers (default "default").
// It must be a structured-field token: letters, digits, "_", "-", ".".
func WithName(name string) Option {
	return optionFunc(func(l *Limiter) { l.name = name })
}

// New returns a Limiter enforcing limit on the keys in store.
func New(store Store, limit Limit, opts ...Option) (*Limiter, error) {
	if store == nil {
		return nil, errors.New("ratelimit: nil store")
	}
	if err := limit.Validate(); err != nil {
		return nil, err
	}
	l := &Limiter{store: store, limit: limit, name: "default", clock: time.Now}
	for _, o := range opts {
		o.apply(l)
	}
	if !isToken(l.name) {
		return nil, fmt.Errorf("ratelimit: policy name %q is not a token", l.name)
	}
	return l, nil
}

// Limit returns the limiter's policy.
func (l *Limiter) Limit() Limit { return l.limit }

// Name returns the policy name.
func (l *Limiter) Name() string { return l.name }

// Allow takes one request of key.
func (l *Limiter) Allow(ctx context.Context, key string) (Result, error) {
	return l.AllowN(ctx, key, 1)
}

// AllowN takes n requests of key at once.
func (l *Limiter) AllowN(ctx context.Context, key string, n int) (Result, error) {
	if n < 1 || n > l.limit.burst() {
		return Result{Limit: l.limit}, fmt.Errorf("%w: cost %d outside 1..burst", ErrInvalidLimit, n)
	}
	return l.store.Take(ctx, key, l.clock(), l.limit, n)
}

// Refund gives back one request of key taken by Allow, as if it had not
// been made: a caller reserves the allowance before some work and returns
// it when the outcome costs nothing (a successful authentication), so
// that concurrent attempts cannot each spend the last request. Refund only
// what Allow took.
func (l *Limiter) Refund(ctx context.Context, key string) error {
	_, err := l.store.Take(ctx, key, l.clock(), l.limit, -1)
	return err
}

// Peek reports whether one request of key would be allowed now, without
// taking it: Allowed, Remaining, Reset, and RetryAfter when it would be
// refused. It lets a caller spend the allowance only on some outcomes (a
// failed authentication) while refusing every request once it is spent.
func (l *Limiter) Peek(ctx context.Context, key string) (Result, error) {
	now := l.clock()
	r, err := l.store.Take(ctx, key, now, l.limit, 0)
	if err != nil {
		return Result{Limit: l.limit}, err
	}
	if r.Remaining < 1 {
		// Reset is TAT − now; one more request fits when it is at most
		// tolerance − interval.
		r.Allowed = false
		wait := r.Reset - l.limit.Window() + time.Duration(l.limit.interval())*time.Microsecond
		r.RetryAfter = max(wait, time.Microsecond)
	}
	return r, nil
}

// Headers are the RateLimit and RateLimit-Policy fields of
// draft-ietf-httpapi-ratelimit-headers (structured-field lists, one member
// per policy), collected over the limiters a request went through.
type Headers struct {
	policy, limit []string
}

// Add records r under the policy name.
func (h *Headers) Add(name string, r Result) {
	h.policy = append(h.policy, fmt.Sprintf("%q;q=%d;w=%d", name, r.Limit.burst(), max(1, ceilSeconds(r.Limit.Window()))))
	h.limit = append(h.limit, fmt.Sprintf("%q;r=%d;t=%d", name, r.Remaining, ceilSeconds(r.Reset)))
}

// Write adds the fields to hdr (nothing when no policy was added). It
// adds rather than sets: field lines of one name make one list (RFC 9110
// §5.3), so tiers checked at different steps can each write theirs.
func (h *Headers) Write(hdr http.Header) {
	if len(h.policy) == 0 {
		return
	}
	hdr.Add("RateLimit-Policy", strings.Join(h.policy, ", "))
	hdr.Add("RateLimit", strings.Join(h.limit, ", "))
}

// SetHeaders sets RateLimit and RateLimit-Policy for one policy, and
// Retry-After when r was refused.
func SetHeaders(hdr http.Header, name string, r Result) {
	var h Headers
	h.Add(name, r)
	h.Write(hdr)
	if !r.Allowed {
		hdr.Set("Retry-After", strconv.Itoa(r.RetryAfterSeconds()))
	}
}

func isToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
