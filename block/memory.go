package block

import (
	"cmp"
	"context"
	"hash/maphash"
	"slices"
	"time"

	"github.com/wardauth/ward/internal/shardmap"
)

var _ Store = (*MemoryStore)(nil)

// DefaultMaxKeys bounds a MemoryStore made with zero maxKeys: about 100
// bytes a value, some 6 MB at worst.
const DefaultMaxKeys = 1 << 16

const shards = 64

// entry is the state of one (kind, value); times in µs since the epoch.
type entry struct {
	strikes   int32
	offences  int32
	windowEnd int64 // strikes before it count
	until     int64 // blocked before it
	forget    int64 // offences are forgotten after it
}

func (e entry) dead(now int64) bool { return e.windowEnd <= now && e.until <= now && e.forget <= now }

// MemoryStore keeps strikes and blocks of one process, in shards each
// under its own lock. Bounded: a value whose window, block and offence
// memory are all past is dropped; when a shard is full of live values,
// the least of a few sampled is evicted — one not blocked, with the
// fewest strikes, before one blocked, and of blocks the one ending first.
type MemoryStore struct {
	m *shardmap.Map[mkey, entry]
}

// mkey is a value's map key: no string to build a lookup.
type mkey struct {
	kind  Kind
	value string
}

// NewMemoryStore returns a store of at most maxKeys values
// (DefaultMaxKeys when zero or negative).
func NewMemoryStore(maxKeys int) *MemoryStore {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	seed := maphash.MakeSeed()
	hash := func(k mkey) uint64 { return maphash.Comparable(seed, k) }
	return &MemoryStore{m: shardmap.New[mkey, entry](shards, maxKeys/shards, hash)}
}

// Check implements Store. It never fails.
func (s *MemoryStore) Check(_ context.Context, kind Kind, value string, now time.Time) (time.Time, error) {
	k := mkey{kind, value}
	sh := s.m.Lock(k)
	e, ok := sh.Get(k)
	sh.Unlock()
	if !ok || e.until <= now.UnixMicro() {
		return time.Time{}, nil
	}
	return time.UnixMicro(e.until), nil
}

// Strike implements Store. It fails only on an invalid value.
func (s *MemoryStore) Strike(_ context.Context, kind Kind, value string, now time.Time, p Policy) (Block, bool, error) {
	if err := checkValue(kind, value); err != nil {
		return Block{}, false, err
	}
	k, n := mkey{kind, value}, now.UnixMicro()
	sh := s.m.Lock(k)
	defer sh.Unlock()
	e, ok := sh.Get(k)
	if !ok {
		sh.Inserted()
		sh.MakeRoom(func(_ mkey, e entry) bool { return e.dead(n) }, less)
	}
	e, started := strike(e, n, p)
	sh.Put(k, e)
	if !started {
		return Block{}, false, nil
	}
	return Block{Kind: kind, Value: value, Until: time.UnixMicro(e.until), Offences: int(e.offences)}, true, nil
}

// strike is one offence at now (µs): the state machine RedisStore's
// script runs too.
func strike(e entry, now int64, p Policy) (entry, bool) {
	if e.until > now { // blocked already: nothing changes
		return e, false
	}
	if e.windowEnd <= now {
		e.strikes, e.windowEnd = 0, now+p.Window.Microseconds()
	}
	e.strikes++
	if int(e.strikes) < p.Threshold {
		return e, false
	}
	if e.forget <= now {
		e.offences = 0
	}
	e.offences++
	e.until = now + p.period(int(e.offences)).Microseconds()
	e.forget = e.until + p.MaxPeriod.Microseconds()
	e.strikes, e.windowEnd = 0, 0
	return e, true
}

// less orders entries by value when a full shard evicts one: not blocked
// before blocked, then fewer strikes (or the block ending first).
func less(a, b entry) bool {
	if a.until != b.until {
		return a.until < b.until
	}
	return a.strikes < b.strikes
}

// List implements Store.
func (s *MemoryStore) List(_ context.Context, now time.Time) ([]Block, error) {
	n := now.UnixMicro()
	var out []Block
	s.m.Range(func(k mkey, e entry) bool {
		if e.until > n {
			out = append(out, Block{Kind: k.kind, Value: k.value, Until: time.UnixMicro(e.until), Offences: int(e.offences)})
		}
		return true
	})
	sortBlocks(out)
	return out, nil
}

// sortBlocks orders blocks ending last first, then by kind and value.
func sortBlocks(bs []Block) {
	slices.SortFunc(bs, func(a, b Block) int {
		if c := b.Until.Compare(a.Until); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Value, b.Value))
	})
}

// Lift implements Store: the value's strikes and offences are forgotten.
func (s *MemoryStore) Lift(_ context.Context, kind Kind, value string, now time.Time) (bool, error) {
	if err := checkValue(kind, value); err != nil {
		return false, err
	}
	k := mkey{kind, value}
	sh := s.m.Lock(k)
	defer sh.Unlock()
	e, ok := sh.Get(k)
	sh.Delete(k)
	return ok && e.until > now.UnixMicro(), nil
}

// Len returns the number of values held.
func (s *MemoryStore) Len() int { return s.m.Len() }
