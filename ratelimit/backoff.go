package ratelimit

import (
	"hash/maphash"
	"time"

	"github.com/wardauth/ward/internal/shardmap"
)

// BackoffPolicy describes growing delays after failures (failed logins):
// Free failures cost nothing; each further one doubles the wait, from Base
// up to Max; after LockAfter failures the key is locked for LockFor. The
// lock expires by itself (a real user recovers from it), and a key's
// failures are forgotten after Forget without one.
type BackoffPolicy struct {
	Free      int
	Base      time.Duration
	Max       time.Duration
	LockAfter int // 0: never lock
	LockFor   time.Duration
	Forget    time.Duration
}

// Delay is the wait imposed after the n-th consecutive failure.
func (p BackoffPolicy) Delay(n int) time.Duration {
	if p.LockAfter > 0 && n >= p.LockAfter {
		return p.LockFor
	}
	if n <= p.Free {
		return 0
	}
	d := p.Base
	for i := p.Free + 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Backoff tracks failures per key in memory, bounded like MemoryStore. It
// never sleeps: it says how long the caller must refuse the key. It is safe
// for concurrent use.
type Backoff struct {
	p     BackoffPolicy
	clock func() time.Time
	m     *shardmap.Map[string, *failures]
}

const backoffShards = 16

type failures struct {
	n     int
	last  time.Time
	until time.Time // refused before this time
}

// NewBackoff returns a tracker of at most maxKeys keys (DefaultMaxKeys when
// zero); clock defaults to time.Now.
func NewBackoff(p BackoffPolicy, maxKeys int, clock func() time.Time) *Backoff {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if clock == nil {
		clock = time.Now
	}
	seed := maphash.MakeSeed()
	hash := func(k string) uint64 { return maphash.String(seed, k) }
	return &Backoff{p: p, clock: clock, m: shardmap.New[string, *failures](backoffShards, maxKeys/backoffShards, hash)}
}

// Wait returns how long key is still refused (0: it may try now).
func (b *Backoff) Wait(key string) time.Duration {
	now := b.clock()
	sh := b.m.Lock(key)
	defer sh.Unlock()
	f, _ := sh.Get(key)
	if f == nil || !now.Before(f.until) {
		return 0
	}
	return f.until.Sub(now)
}

// Fail records a failure of key and returns the wait it now imposes.
func (b *Backoff) Fail(key string) time.Duration {
	now := b.clock()
	sh := b.m.Lock(key)
	defer sh.Unlock()
	f, _ := sh.Get(key)
	if f == nil {
		if sh.Full() {
			b.evict(sh, now)
		}
		f = &failures{}
		sh.Put(key, f)
	} else if b.forgotten(f, now) {
		*f = failures{}
	}
	f.n++
	f.last = now
	d := b.p.Delay(f.n)
	if u := now.Add(d); u.After(f.until) {
		f.until = u
	}
	return f.until.Sub(now)
}

// forgotten reports whether f's failures are past Forget and no lock is on.
func (b *Backoff) forgotten(f *failures, now time.Time) bool {
	return now.Sub(f.last) > b.p.Forget && !now.Before(f.until)
}

// Reset forgets key's failures (after a success).
func (b *Backoff) Reset(key string) {
	sh := b.m.Lock(key)
	sh.Delete(key)
	sh.Unlock()
}

// Failures returns key's current failure count.
func (b *Backoff) Failures(key string) int {
	sh := b.m.Lock(key)
	defer sh.Unlock()
	if f, _ := sh.Get(key); f != nil {
		return f.n
	}
	return 0
}

// evict makes room in a full shard: it drops forgotten keys, or, when none
// is, the sampled key whose last failure is oldest. The full sweep runs at
// most once every perShard/4 inserts into a full shard.
func (b *Backoff) evict(sh *shardmap.Shard[string, *failures], now time.Time) {
	sh.Inserted()
	sh.MakeRoom(func(_ string, f *failures) bool { return b.forgotten(f, now) },
		func(x, y *failures) bool { return x.last.Before(y.last) })
}

// Len returns the number of keys held.
func (b *Backoff) Len() int { return b.m.Len() }
