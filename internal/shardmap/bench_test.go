package shardmap

import (
	"hash/maphash"
	"strconv"
	"testing"
)

// BenchmarkLockGetPut is one locked read and write of 10 000 string keys
// from parallel goroutines: the map's own cost in the stores built on it.
func BenchmarkLockGetPut(b *testing.B) {
	seed := maphash.MakeSeed()
	m := New[string, int64](64, 1<<12, func(k string) uint64 { return maphash.String(seed, k) })
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "ip:" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k := keys[i%len(keys)]
			sh := m.Lock(k)
			v, _ := sh.Get(k)
			sh.Put(k, v+1)
			sh.Unlock()
			i++
		}
	})
}
