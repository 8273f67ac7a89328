package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkMemoryEvicting is MemoryStore.Take at its ceiling: 1 024 keys
// of room, 100 000 keys arriving, so most calls insert a key and evict
// one (sweep or sample).
func BenchmarkMemoryEvicting(b *testing.B) {
	s := NewMemoryStore(1 << 10)
	keys := benchKeys(100_000)
	l := Limit{Rate: 10, Period: time.Minute}
	now := time.Unix(1_700_000_000, 0)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, _ = s.Take(ctx, keys[i%len(keys)], now.Add(time.Duration(i)*time.Microsecond), l, 1)
		i++
	}
}

// BenchmarkBackoff is one failure and one check per call, over 10 000
// keys from parallel goroutines (nothing evicted).
func BenchmarkBackoff(b *testing.B) {
	bo := NewBackoff(BackoffPolicy{Free: 3, Base: time.Second, Max: time.Minute, LockAfter: 20, LockFor: time.Hour, Forget: time.Hour}, 0, nil)
	keys := benchKeys(10_000)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k := keys[i%len(keys)]
			bo.Fail(k)
			_ = bo.Wait(k)
			if i%8 == 0 {
				bo.Reset(k)
			}
			i++
		}
	})
}

// BenchmarkBackoffEvicting is Backoff.Fail at its ceiling: 1 024 keys of
// room, 100 000 keys failing.
func BenchmarkBackoffEvicting(b *testing.B) {
	var now time.Time
	bo := NewBackoff(BackoffPolicy{Free: 3, Base: time.Second, Max: time.Minute, Forget: time.Minute}, 1<<10, func() time.Time { return now })
	keys := benchKeys(100_000)
	now = time.Unix(1_700_000_000, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		now = now.Add(time.Millisecond)
		bo.Fail(keys[i%len(keys)])
		i++
	}
}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "ip:" + strconv.Itoa(i)
	}
	return keys
}
