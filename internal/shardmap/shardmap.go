package shardmap

import (
	"math/bits"
	"sync"
)

// Sample is how many entries MakeRoom looks at to choose a victim.
const Sample = 8

// Map is a sharded, bounded map from K to V. It is safe for concurrent use
// through Lock; the zero value is not usable, make one with New.
type Map[K comparable, V comparable] struct {
	hash     func(K) uint64
	mask     uint64
	perShard int
	shards   []Shard[K, V]
}

// Shard is one part of a Map. Its methods must be called between Map.Lock
// and Shard.Unlock.
type Shard[K comparable, V comparable] struct {
	mu       sync.Mutex
	m        map[K]V
	perShard int
	inserts  int            // counted by Inserted since the last sweep
	queue    []queued[K, V] // PutQueued's arrival order, for Shed
	head     int
}

type queued[K comparable, V comparable] struct {
	key K
	val V
}

// New returns a map of shards shards (a power of two) of at most perShard
// entries each (at least 1); hash places a key in a shard.
func New[K comparable, V comparable](shards, perShard int, hash func(K) uint64) *Map[K, V] {
	if shards <= 0 || bits.OnesCount(uint(shards)) != 1 {
		panic("shardmap: shard count must be a power of two")
	}
	perShard = max(1, perShard)
	m := &Map[K, V]{hash: hash, mask: uint64(shards - 1), perShard: perShard, shards: make([]Shard[K, V], shards)}
	for i := range m.shards {
		m.shards[i].m = make(map[K]V)
		m.shards[i].perShard = perShard
	}
	return m
}

// Lock locks the shard of k and returns it; the caller unlocks it.
func (m *Map[K, V]) Lock(k K) *Shard[K, V] {
	sh := &m.shards[m.hash(k)&m.mask]
	sh.mu.Lock()
	return sh
}

// Len returns the number of entries held, locking each shard in turn.
func (m *Map[K, V]) Len() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Capacity is the most entries the map holds: shards × perShard.
func (m *Map[K, V]) Capacity() int { return len(m.shards) * m.perShard }

// Unlock unlocks the shard.
func (s *Shard[K, V]) Unlock() { s.mu.Unlock() }

// Get returns k's value.
func (s *Shard[K, V]) Get(k K) (V, bool) {
	v, ok := s.m[k]
	return v, ok
}

// Put sets k's value. It does not check the bound: a new key goes in only
// after Full is false or MakeRoom made room.
func (s *Shard[K, V]) Put(k K, v V) { s.m[k] = v }

// Delete removes k.
func (s *Shard[K, V]) Delete(k K) { delete(s.m, k) }

// Len returns the number of entries in the shard.
func (s *Shard[K, V]) Len() int { return len(s.m) }

// Full reports whether the shard holds its bound of entries.
func (s *Shard[K, V]) Full() bool { return len(s.m) >= s.perShard }

// PutQueued sets k's value and queues (k, v) for Shed.
func (s *Shard[K, V]) PutQueued(k K, v V) {
	s.m[k] = v
	s.queue = append(s.queue, queued[K, V]{k, v})
}

// Shed drops queued entries from the front of the queue while expired says
// their value is expired, deleting each key whose value is still the one
// queued (a key put again since keeps its newer value). An entry queued
// behind a longer-lived one waits for it.
func (s *Shard[K, V]) Shed(expired func(V) bool) {
	for s.head < len(s.queue) && expired(s.queue[s.head].val) {
		e := s.queue[s.head]
		if cur, ok := s.m[e.key]; ok && cur == e.val {
			delete(s.m, e.key)
		}
		s.queue[s.head] = queued[K, V]{}
		s.head++
	}
	// Compact once the dead prefix is at least half the queue.
	if s.head > 0 && s.head >= len(s.queue)/2 {
		n := copy(s.queue, s.queue[s.head:])
		clear(s.queue[n:])
		s.queue = s.queue[:n]
		s.head = 0
	}
}

// Inserted counts a new key towards MakeRoom's next sweep.
func (s *Shard[K, V]) Inserted() { s.inserts++ }

// MakeRoom frees one place in a full shard (it does nothing otherwise).
// When PerShard/4 inserts (at least one) were counted since the last
// sweep, it first deletes every entry dead says is dead; if the shard is
// still full, it evicts, of Sample entries in map order (random), the one
// for which less(v, others) holds: the least valuable.
func (s *Shard[K, V]) MakeRoom(dead func(K, V) bool, less func(a, b V) bool) {
	if !s.Full() {
		return
	}
	if s.inserts >= max(1, s.perShard/4) {
		s.inserts = 0
		for k, v := range s.m {
			if dead(k, v) {
				delete(s.m, k)
			}
		}
		if !s.Full() {
			return
		}
	}
	s.evictSampled(less)
}

// evictSampled deletes the least of Sample entries in map order.
func (s *Shard[K, V]) evictSampled(less func(a, b V) bool) {
	var victim K
	var worst V
	i := 0
	for k, v := range s.m {
		if i == 0 || less(v, worst) {
			victim, worst = k, v
		}
		if i++; i == Sample {
			break
		}
	}
	delete(s.m, victim)
}

// Range calls f with every entry, locking each shard in turn (f must not
// use the map); it stops when f returns false.
func (m *Map[K, V]) Range(f func(K, V) bool) {
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for k, v := range sh.m {
			if !f(k, v) {
				sh.mu.Unlock()
				return
			}
		}
		sh.mu.Unlock()
	}
}
