package shardmap

import (
	"hash/maphash"
	"strconv"
	"sync"
	"testing"
)

func identity(k uint64) uint64 { return k }

// TestShedInArrivalOrder: Shed drops expired entries from the front of
// the queue, stops at the first live one, and keeps a key that was put
// again with a newer value.
func TestShedInArrivalOrder(t *testing.T) {
	m := New[uint64, int64](1, 10, identity)
	sh := m.Lock(0)
	defer sh.Unlock()
	sh.PutQueued(1, 10)
	sh.PutQueued(2, 20)
	sh.PutQueued(3, 30)
	sh.PutQueued(1, 40) // put again: the queued (1, 10) must not delete it
	sh.PutQueued(4, 15) // behind a longer-lived entry: waits for it
	sh.Shed(func(v int64) bool { return v <= 25 })
	for k, want := range map[uint64]bool{1: true, 2: false, 3: true, 4: true} {
		if _, ok := sh.Get(k); ok != want {
			t.Errorf("key %d held: %v, want %v", k, ok, want)
		}
	}
	if v, _ := sh.Get(1); v != 40 {
		t.Errorf("key 1 = %d, want its newer value 40", v)
	}
	sh.Shed(func(v int64) bool { return v <= 100 })
	if sh.Len() != 0 || len(sh.queue) != 0 {
		t.Fatalf("%d entries, %d queued after all expired", sh.Len(), len(sh.queue))
	}
}

// TestMakeRoomSweepsEveryQuarter: on a full shard MakeRoom sweeps dead
// entries only once PerShard/4 inserts were counted; otherwise (and when
// the sweep frees nothing) it evicts exactly one sampled entry, the least.
func TestMakeRoomSweepsEveryQuarter(t *testing.T) {
	const per = 8
	m := New[uint64, int64](1, per, identity)
	sh := m.Lock(0)
	defer sh.Unlock()
	for k := range uint64(per) {
		sh.Put(k, int64(k))
	}
	dead := func(_ uint64, v int64) bool { return v < 4 }
	less := func(a, b int64) bool { return a < b }
	sh.Inserted() // 1 of per/4 = 2: no sweep yet
	sh.MakeRoom(dead, less)
	if sh.Len() != per-1 {
		t.Fatalf("%d entries: want one evicted", sh.Len())
	}
	if _, ok := sh.Get(0); ok {
		t.Fatal("the sampled minimum (all 8 are sampled) was not the victim")
	}
	sh.Put(100, 100)
	sh.Inserted() // 2 of 2: sweep
	sh.MakeRoom(dead, less)
	if sh.Len() != per-3 {
		t.Fatalf("%d entries after the sweep, want %d", sh.Len(), per-3)
	}
	// Not full: nothing happens.
	sh.Inserted()
	sh.Inserted()
	sh.MakeRoom(func(uint64, int64) bool { return true }, less)
	if sh.Len() != per-3 {
		t.Fatalf("MakeRoom on a shard with room removed entries: %d", sh.Len())
	}
}

// TestBound: a caller that inserts only after Full is false or MakeRoom
// ran never holds more than Capacity entries, whatever the key spread.
func TestBound(t *testing.T) {
	seed := maphash.MakeSeed()
	m := New[string, int](16, 5, func(k string) uint64 { return maphash.String(seed, k) })
	if m.Capacity() != 80 {
		t.Fatalf("capacity %d", m.Capacity())
	}
	for i := range 10_000 {
		k := strconv.Itoa(i)
		sh := m.Lock(k)
		if _, ok := sh.Get(k); !ok {
			sh.Inserted()
			sh.MakeRoom(func(string, int) bool { return false }, func(a, b int) bool { return a < b })
		}
		sh.Put(k, i)
		sh.Unlock()
		if n := m.Len(); n > m.Capacity() {
			t.Fatalf("%d entries after %d inserts, capacity %d", n, i+1, m.Capacity())
		}
	}
}

func TestNewRefusesShardCounts(t *testing.T) {
	for _, n := range []int{0, -1, 3, 48} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%d, ...) did not panic", n)
				}
			}()
			New[uint64, int](n, 1, identity)
		}()
	}
}

// TestConcurrentCounts: increments from many goroutines under Lock are
// neither lost nor torn (run with -race).
func TestConcurrentCounts(t *testing.T) {
	seed := maphash.MakeSeed()
	m := New[string, int](8, 100, func(k string) uint64 { return maphash.String(seed, k) })
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 1000 {
				k := strconv.Itoa((g + i) % 50)
				sh := m.Lock(k)
				v, _ := sh.Get(k)
				sh.Put(k, v+1)
				sh.Unlock()
			}
		})
	}
	wg.Wait()
	total := 0
	for i := range 50 {
		k := strconv.Itoa(i)
		sh := m.Lock(k)
		v, _ := sh.Get(k)
		sh.Unlock()
		total += v
	}
	if total != 16*1000 || m.Len() != 50 {
		t.Fatalf("%d increments over %d keys, want 16000 over 50", total, m.Len())
	}
}
