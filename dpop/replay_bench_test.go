package dpop

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkMemoryReplayStore records fresh (jkt, jti) pairs from parallel
// goroutines, each valid for one second of a clock that advances 1 ms a
// call: a steady state in which every Use sheds about as much as it adds.
func BenchmarkMemoryReplayStore(b *testing.B) {
	var tick atomic.Int64
	clock := func() time.Time { return time.Unix(0, tick.Add(int64(time.Millisecond))) }
	s := NewMemoryReplayStore(0, clock)
	var seq atomic.Int64
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		jti := make([]byte, 0, 24)
		for pb.Next() {
			n := seq.Add(1)
			jti = strconv.AppendInt(jti[:0], n, 36)
			if err := s.Use(ctx, "jkt", string(jti), clock().Add(time.Second)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMemoryReplayStoreFull is the cost of a refusal: every shard
// holds its ceiling of unexpired entries.
func BenchmarkMemoryReplayStoreFull(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	s := NewMemoryReplayStore(1<<12, func() time.Time { return now })
	ctx := context.Background()
	for i := 0; s.Len() < 1<<12; i++ {
		_ = s.Use(ctx, "jkt", strconv.Itoa(i), now.Add(time.Hour))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Use(ctx, "jkt", "x"+strconv.Itoa(i), now.Add(time.Hour)); err != ErrStoreFull {
			b.Fatal(err)
		}
		i++
	}
}
