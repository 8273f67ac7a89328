package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

var _ Store = (*MemoryStore)(nil)

// DefaultMaxKeys bounds a MemoryStore made with zero MaxKeys: about 100
// bytes a key, so some 25 MB at worst.
const DefaultMaxKeys = 1 << 18

const shards = 64

// MemoryStore keeps the state of one process in memory, in shards each
// under its own lock. Its memory is bounded: a key whose theoretical
// arrival time is past holds nothing a fresh key would not (GCRA state
// "full allowance"), so it is dropped; and when a shard is full of live
// keys, the one nearest to a full allowance among a few sampled is
// evicted, which at worst grants that key a fresh burst early.
type MemoryStore struct {
	seed     maphash.Seed
	perShard int
	shards   [shards]shard
}

type shard struct {
	mu      sync.Mutex
	tat     map[string]int64 // key → TAT in µs since the epoch
	inserts int              // since the last sweep
}

// NewMemoryStore returns a store of at most maxKeys keys (DefaultMaxKeys
// when zero or negative).
func NewMemoryStore(maxKeys int) *MemoryStore {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	s := &MemoryStore{seed: maphash.MakeSeed(), perShard: max(1, maxKeys/shards)}
	for i := range s.shards {
		s.shards[i].tat = make(map[string]int64)
	}
	return s
}

// Take implements Store. It never fails.
func (s *MemoryStore) Take(_ context.Context, key string, now time.Time, l Limit, cost int) (Result, error) {
	n := micros(now)
	sh := &s.shards[maphash.String(s.seed, key)%shards]
	sh.mu.Lock()
	tat, found := sh.tat[key]
	ok, next := decide(tat, n, l, cost)
	if ok && (found || next > n) { // a Peek (cost 0) of an absent key stores nothing
		if !found {
			sh.makeRoom(n, s.perShard)
		}
		sh.tat[key] = next
	}
	sh.mu.Unlock()
	return resultOf(ok, next, n, l, cost), nil
}

// makeRoom is called before a new key goes in. When the shard is full it
// sweeps it of expired keys, at most once every perShard/4 inserts
// (amortised O(1) a request); when it is still full it evicts by sampling.
func (sh *shard) makeRoom(now int64, perShard int) {
	sh.inserts++
	if len(sh.tat) < perShard {
		return
	}
	if sh.inserts >= max(1, perShard/4) {
		sh.inserts = 0
		for k, t := range sh.tat {
			if t <= now {
				delete(sh.tat, k)
			}
		}
		if len(sh.tat) < perShard {
			return
		}
	}
	// Full of live keys: evict the sampled key closest to a full
	// allowance (smallest TAT). Map iteration order is random.
	var victim string
	best, i := int64(-1), 0
	for k, t := range sh.tat {
		if best < 0 || t < best {
			victim, best = k, t
		}
		if i++; i == 8 {
			break
		}
	}
	delete(sh.tat, victim)
}

// Len returns the number of keys held.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.tat)
		sh.mu.Unlock()
	}
	return n
}
