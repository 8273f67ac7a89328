package ratelimit

import (
	"context"
	"hash/maphash"
	"time"

	"github.com/wardauth/ward/internal/shardmap"
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
	tat *shardmap.Map[string, int64] // key → TAT in µs since the epoch
}

// NewMemoryStore returns a store of at most maxKeys keys (DefaultMaxKeys
// when zero or negative).
func NewMemoryStore(maxKeys int) *MemoryStore {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	seed := maphash.MakeSeed()
	hash := func(k string) uint64 { return maphash.String(seed, k) }
	return &MemoryStore{tat: shardmap.New[string, int64](shards, maxKeys/shards, hash)}
}

// Take implements Store. It never fails.
func (s *MemoryStore) Take(_ context.Context, key string, now time.Time, l Limit, cost int) (Result, error) {
	n := micros(now)
	sh := s.tat.Lock(key)
	tat, found := sh.Get(key)
	ok, next := decide(tat, n, l, cost)
	if ok && (found || next > n) { // a Peek (cost 0) of an absent key stores nothing
		if !found {
			makeRoom(sh, n)
		}
		sh.Put(key, next)
	}
	sh.Unlock()
	return resultOf(ok, next, n, l, cost), nil
}

// makeRoom is called before a new key goes in. When the shard is full it
// sweeps it of expired keys (TAT past), at most once every perShard/4
// inserts (amortised O(1) a request); when it is still full it evicts, of
// a few sampled keys, the one closest to a full allowance (smallest TAT).
func makeRoom(sh *shardmap.Shard[string, int64], now int64) {
	sh.Inserted()
	sh.MakeRoom(func(_ string, tat int64) bool { return tat <= now }, func(a, b int64) bool { return a < b })
}

// Len returns the number of keys held.
func (s *MemoryStore) Len() int { return s.tat.Len() }
