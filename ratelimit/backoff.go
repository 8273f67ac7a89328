package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
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
	p        BackoffPolicy
	clock    func() time.Time
	seed     maphash.Seed
	perShard int
	shards   [16]backoffShard
}

type backoffShard struct {
	mu      sync.Mutex
	m       map[string]*failures
	inserts int // since the last sweep
}

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
	b := &Backoff{p: p, clock: clock, seed: maphash.MakeSeed(), perShard: max(1, maxKeys/16)}
	for i := range b.shards {
		b.shards[i].m = map[string]*failures{}
	}
	return b
}

func (b *Backoff) shard(key string) *backoffShard {
	return &b.shards[maphash.String(b.seed, key)%16]
}

// Wait returns how long key is still refused (0: it may try now).
func (b *Backoff) Wait(key string) time.Duration {
	now := b.clock()
	sh := b.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	f := sh.m[key]
	if f == nil || !now.Before(f.until) {
		return 0
	}
	return f.until.Sub(now)
}

// Fail records a failure of key and returns the wait it now imposes.
func (b *Backoff) Fail(key string) time.Duration {
	now := b.clock()
	sh := b.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	f := sh.m[key]
	if f == nil {
		if len(sh.m) >= b.perShard {
			b.evict(sh, now)
		}
		f = &failures{}
		sh.m[key] = f
	} else if now.Sub(f.last) > b.p.Forget && !now.Before(f.until) {
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

// Reset forgets key's failures (after a success).
func (b *Backoff) Reset(key string) {
	sh := b.shard(key)
	sh.mu.Lock()
	delete(sh.m, key)
	sh.mu.Unlock()
}

// Failures returns key's current failure count.
func (b *Backoff) Failures(key string) int {
	sh := b.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if f := sh.m[key]; f != nil {
		return f.n
	}
	return 0
}

// evict drops forgotten keys, or, when none is, the sampled key whose
// last failure is oldest.
// The full sweep runs at most once every perShard/4 inserts.
func (b *Backoff) evict(sh *backoffShard, now time.Time) {
	if sh.inserts++; sh.inserts >= max(1, b.perShard/4) {
		sh.inserts = 0
		for k, f := range sh.m {
			if now.Sub(f.last) > b.p.Forget && !now.Before(f.until) {
				delete(sh.m, k)
			}
		}
		if len(sh.m) < b.perShard {
			return
		}
	}
	var victim string
	var oldest time.Time
	i := 0
	for k, f := range sh.m {
		if victim == "" || f.last.Before(oldest) {
			victim, oldest = k, f.last
		}
		if i++; i == 8 {
			break
		}
	}
	delete(sh.m, victim)
}

// Len returns the number of keys held.
func (b *Backoff) Len() int {
	n := 0
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
