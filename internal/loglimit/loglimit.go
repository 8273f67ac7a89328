package loglimit

import (
	"sync"
	"time"
)

// MaxReasons bounds the buckets: reasons past it share one bucket, so a
// caller that passed request data as a reason could not grow the map.
const MaxReasons = 256

// overflow is the shared bucket's reason.
const overflow = "\x00other"

// Limiter decides, per reason, whether a line may be written. It is safe
// for concurrent use.
type Limiter struct {
	mu      sync.Mutex
	rate    float64 // tokens a second
	burst   float64
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens     float64
	last       time.Time
	suppressed uint64
}

// New returns a Limiter that writes up to burst lines of one reason at
// once and perSecond lines a second after that; now is the clock (nil:
// time.Now).
func New(perSecond float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: perSecond, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// Allow reports whether a line of reason may be written now and, when it
// may, how many lines of that reason were refused since the last one
// allowed (the caller logs it as "suppressed").
func (l *Limiter) Allow(reason string) (ok bool, suppressed uint64) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[reason]
	if b == nil {
		if len(l.buckets) >= MaxReasons {
			reason = overflow
			b = l.buckets[reason]
		}
		if b == nil {
			b = &bucket{tokens: l.burst, last: now}
			l.buckets[reason] = b
		}
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		b.suppressed++
		return false, 0
	}
	b.tokens--
	suppressed, b.suppressed = b.suppressed, 0
	return true, suppressed
}
