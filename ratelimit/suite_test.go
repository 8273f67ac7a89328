package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is the injected clock: tests move it, they never sleep.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// runConformance is the suite every Store passes. newStore returns a store
// with no keys of its own (a fresh prefix for Redis).
func runConformance(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	limiter := func(t *testing.T, l Limit) (*Limiter, *fakeClock) {
		c := newClock()
		lim, err := New(newStore(t), l, WithClock(c.Now))
		if err != nil {
			t.Fatal(err)
		}
		return lim, c
	}
	take := func(t *testing.T, l *Limiter, key string) Result {
		t.Helper()
		r, err := l.Allow(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	t.Run("BurstThenSteady", func(t *testing.T) {
		// 10 a second, burst 5: 5 at once, then one every 100 ms.
		l, c := limiter(t, Limit{Rate: 10, Period: time.Second, Burst: 5})
		for i := range 5 {
			r := take(t, l, "k")
			if !r.Allowed || r.Remaining != 4-i {
				t.Fatalf("request %d: %+v, want allowed with %d remaining", i, r, 4-i)
			}
		}
		r := take(t, l, "k")
		if r.Allowed || r.RetryAfter != 100*time.Millisecond || r.Remaining != 0 {
			t.Fatalf("6th: %+v, want refused, retry after 100ms", r)
		}
		if r.Reset != 500*time.Millisecond {
			t.Fatalf("reset %v, want 500ms", r.Reset)
		}
		c.Add(99 * time.Millisecond)
		if r := take(t, l, "k"); r.Allowed || r.RetryAfter != time.Millisecond {
			t.Fatalf("at 99ms: %+v, want refused for 1ms more", r)
		}
		c.Add(time.Millisecond)
		if r := take(t, l, "k"); !r.Allowed || r.Remaining != 0 {
			t.Fatalf("at 100ms: %+v, want allowed, 0 remaining", r)
		}
	})

	t.Run("ExactRetryAfter", func(t *testing.T) {
		// 3 a minute, burst 1: one every 20 s exactly.
		l, c := limiter(t, Limit{Rate: 3, Period: time.Minute, Burst: 1})
		take(t, l, "k")
		c.Add(7 * time.Second)
		r := take(t, l, "k")
		if r.Allowed || r.RetryAfter != 13*time.Second || r.RetryAfterSeconds() != 13 {
			t.Fatalf("%+v, want retry after exactly 13s", r)
		}
		c.Add(r.RetryAfter - time.Microsecond)
		if take(t, l, "k").Allowed {
			t.Fatal("allowed 1µs before Retry-After")
		}
		c.Add(time.Microsecond)
		if !take(t, l, "k").Allowed {
			t.Fatal("refused at Retry-After")
		}
	})

	t.Run("NoBurstAtWindowBoundary", func(t *testing.T) {
		// A fixed window of 10/min would allow 10 at 0:59.9 and 10 more at
		// 1:00.0. GCRA with burst 10 allows 10, then only what has been
		// earned since: one every 6 s.
		l, c := limiter(t, Limit{Rate: 10, Period: time.Minute})
		c.Add(59*time.Second + 900*time.Millisecond)
		n := 0
		for range 20 {
			if take(t, l, "k").Allowed {
				n++
			}
		}
		c.Add(100 * time.Millisecond) // the "next window"
		for range 20 {
			if take(t, l, "k").Allowed {
				n++
			}
		}
		if n != 10 {
			t.Fatalf("allowed %d around the boundary, want 10", n)
		}
		// Over any 60 s, at most burst + 60s/interval = 20.
		c.Add(60 * time.Second)
		for range 30 {
			if take(t, l, "k").Allowed {
				n++
			}
		}
		if n != 20 {
			t.Fatalf("allowed %d in 60.1s, want 20", n)
		}
	})

	t.Run("KeysAreIndependent", func(t *testing.T) {
		// Fairness: one key exhausting its allowance costs another nothing.
		l, _ := limiter(t, Limit{Rate: 2, Period: time.Second})
		for range 10 {
			take(t, l, "noisy")
		}
		for i := range 2 {
			if r := take(t, l, "quiet"); !r.Allowed {
				t.Fatalf("quiet key refused at %d: %+v", i, r)
			}
		}
	})

	t.Run("PeekTakesNothing", func(t *testing.T) {
		// 3 a minute, burst 2: Peek says what a take would, and never
		// spends the allowance (client-authentication failures are taken
		// only when they happen, and peeked before each attempt).
		l, c := limiter(t, Limit{Rate: 3, Period: time.Minute, Burst: 2})
		peek := func() Result {
			t.Helper()
			r, err := l.Peek(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		for range 10 {
			if r := peek(); !r.Allowed || r.Remaining != 2 {
				t.Fatalf("fresh key: %+v, want allowed with 2 remaining", r)
			}
		}
		take(t, l, "k")
		take(t, l, "k")
		r := peek()
		if r.Allowed || r.RetryAfter != 20*time.Second || r.RetryAfterSeconds() != 20 {
			t.Fatalf("spent: %+v, want refused, retry after exactly 20s", r)
		}
		c.Add(20*time.Second - time.Microsecond)
		if peek().Allowed {
			t.Fatal("allowed 1µs before Retry-After")
		}
		c.Add(time.Microsecond)
		if r := peek(); !r.Allowed || r.Remaining != 1 {
			t.Fatalf("at Retry-After: %+v, want allowed with 1 remaining", r)
		}
		if !take(t, l, "k").Allowed {
			t.Fatal("the peeks spent the allowance")
		}
	})

	t.Run("RefundGivesBackOneTake", func(t *testing.T) {
		// 3 a minute, burst 2: a refunded take is as if never made, also
		// after time passed, and a refund never adds to a full allowance.
		l, c := limiter(t, Limit{Rate: 3, Period: time.Minute, Burst: 2})
		refund := func() {
			t.Helper()
			if err := l.Refund(ctx, "k"); err != nil {
				t.Fatal(err)
			}
		}
		take(t, l, "k")
		take(t, l, "k")
		refund()
		if r, _ := l.Peek(ctx, "k"); !r.Allowed || r.Remaining != 1 {
			t.Fatalf("after a refund: %+v, want allowed with 1 remaining", r)
		}
		take(t, l, "k")
		c.Add(5 * time.Second)
		refund()
		refund()
		refund()
		take(t, l, "k")
		take(t, l, "k")
		if take(t, l, "k").Allowed {
			t.Fatal("refunds beyond what was taken raised the allowance above its burst")
		}
	})

	t.Run("RefusalCostsNothing", func(t *testing.T) {
		// A client hammering while refused does not push its TAT forward.
		l, c := limiter(t, Limit{Rate: 1, Period: time.Second, Burst: 1})
		take(t, l, "k")
		for range 100 {
			take(t, l, "k")
		}
		c.Add(time.Second)
		if !take(t, l, "k").Allowed {
			t.Fatal("refusals were counted")
		}
	})

	t.Run("Cost", func(t *testing.T) {
		l, _ := limiter(t, Limit{Rate: 10, Period: time.Second})
		r, err := l.AllowN(ctx, "k", 7)
		if err != nil || !r.Allowed || r.Remaining != 3 {
			t.Fatalf("%+v %v", r, err)
		}
		r, _ = l.AllowN(ctx, "k", 4)
		if r.Allowed || r.RetryAfter != 100*time.Millisecond {
			t.Fatalf("%+v, want refused for 100ms", r)
		}
		if _, err := l.AllowN(ctx, "k", 11); err == nil {
			t.Fatal("cost over burst accepted")
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		// Burst 50 taken by 200 racers at one instant: exactly 50 pass.
		l, _ := limiter(t, Limit{Rate: 50, Period: time.Hour})
		var wg sync.WaitGroup
		var mu sync.Mutex
		n := 0
		for range 200 {
			wg.Go(func() {
				if r, err := l.Allow(ctx, "k"); err == nil && r.Allowed {
					mu.Lock()
					n++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if n != 50 {
			t.Fatalf("%d allowed, want 50", n)
		}
	})

	t.Run("FairnessManyKeys", func(t *testing.T) {
		l, c := limiter(t, Limit{Rate: 5, Period: time.Second})
		got := map[string]int{}
		for range 10 { // 10 rounds of 100 ms, 20 keys each trying 3
			for k := range 20 {
				key := fmt.Sprint("k", k)
				for range 3 {
					if take(t, l, key).Allowed {
						got[key]++
					}
				}
			}
			c.Add(100 * time.Millisecond)
		}
		for k, n := range got {
			// 5 burst + 9 intervals of 100ms at 5/s → 4 more (200ms each).
			if n != got["k0"] {
				t.Fatalf("key %s got %d, k0 got %d", k, n, got["k0"])
			}
		}
		if got["k0"] != 9 {
			t.Fatalf("each key got %d, want 9", got["k0"])
		}
	})
}

func TestMemoryStoreConformance(t *testing.T) {
	runConformance(t, func(*testing.T) Store { return NewMemoryStore(0) })
}
