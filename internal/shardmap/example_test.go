package shardmap_test

import (
	"fmt"
	"hash/maphash"

	"github.com/wardauth/ward/internal/shardmap"
)

// A counter of at most 16 × 2 keys that, when a shard is full, evicts the
// smallest count among a few sampled.
func Example() {
	seed := maphash.MakeSeed()
	m := shardmap.New[string, int](16, 2, func(k string) uint64 { return maphash.String(seed, k) })
	count := func(k string) int {
		sh := m.Lock(k)
		defer sh.Unlock()
		n, ok := sh.Get(k)
		if !ok {
			sh.Inserted()
			sh.MakeRoom(func(string, int) bool { return false }, func(a, b int) bool { return a < b })
		}
		sh.Put(k, n+1)
		return n + 1
	}
	count("alice")
	fmt.Println(count("alice"), m.Len() <= m.Capacity())
	// Output: 2 true
}
