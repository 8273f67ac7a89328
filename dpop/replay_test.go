package dpop

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemoryReplayStore(t *testing.T) {
	now := testNow
	s := NewMemoryReplayStore(1000, func() time.Time { return now })
	ctx := context.Background()
	exp := now.Add(time.Minute)
	if err := s.Use(ctx, "k1", "j1", exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Use(ctx, "k1", "j1", exp); !errors.Is(err, ErrSeen) {
		t.Fatalf("second use: %v", err)
	}
	// Same jti, other key: not a replay. Separator prevents ("k1j","1") ~ ("k1","j1").
	if err := s.Use(ctx, "k2", "j1", exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Use(ctx, "k1j", "1", exp); err != nil {
		t.Fatal(err)
	}
	// After expiry the pair may be recorded again (the verifier's iat
	// window refuses such a proof anyway).
	now = exp.Add(time.Second)
	if err := s.Use(ctx, "k1", "j1", now.Add(time.Minute)); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestMemoryReplayStoreCeiling(t *testing.T) {
	now := testNow
	const capacity = 64 * 4 // 4 per shard
	s := NewMemoryReplayStore(capacity, func() time.Time { return now })
	ctx := context.Background()
	full := 0
	for i := 0; i < capacity*4; i++ {
		if err := s.Use(ctx, "k", fmt.Sprint(i), now.Add(time.Minute)); errors.Is(err, ErrStoreFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if full == 0 || s.Len() > capacity {
		t.Fatalf("ceiling not enforced: %d refusals, %d entries, capacity %d", full, s.Len(), capacity)
	}
	// Entries seen before stay refused while full: nothing was forgotten.
	if err := s.Use(ctx, "k", "0", now.Add(time.Minute)); !errors.Is(err, ErrSeen) {
		t.Fatalf("a recorded jti was forgotten: %v", err)
	}
	// Once the entries expire, room is made again.
	now = now.Add(2 * time.Minute)
	if err := s.Use(ctx, "k", "new", now.Add(time.Minute)); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestMemoryReplayStoreConcurrent(t *testing.T) {
	s := NewMemoryReplayStore(0, nil)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if s.Use(context.Background(), "k", fmt.Sprint(i), time.Now().Add(time.Minute)) == nil {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 200 {
		t.Fatalf("%d successes for 200 distinct jtis raced by 32 goroutines", ok.Load())
	}
}

// TestMemoryReplayStoreBounded records a million distinct proofs passing
// through a store of 100 000 entries with a 0.5 s window (about 60 000 live
// at a time): memory stays bounded
// because expired entries are shed as new ones arrive.
func TestMemoryReplayStoreBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	now := testNow
	s := NewMemoryReplayStore(100_000, func() time.Time { return now })
	ctx := context.Background()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 1_000_000; i++ {
		if i%10_000 == 0 {
			now = now.Add(100 * time.Millisecond) // 10 000 proofs per 100 ms
		}
		if err := s.Use(ctx, "k", fmt.Sprint(i), now.Add(500*time.Millisecond)); err != nil {
			t.Fatalf("proof %d: %v", i, err)
		}
	}
	if n := s.Len(); n > 70_000 {
		t.Fatalf("%d entries held", n)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 64<<20 {
		t.Fatalf("heap grew by %d MiB", grown>>20)
	}
}
