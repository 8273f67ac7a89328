package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/store/redisstore"
)

// The Redis tests run against WARD_TEST_REDIS (default 127.0.0.1:6379)
// with a key prefix of their own (wardtest.Redis); they skip when it is
// unreachable, unless WARD_TEST_REQUIRE_SERVICES=1, when they fail.
func newRedisStore(t testing.TB) *RedisStore {
	_, c, prefix := wardtest.Redis(t, "rl")
	return NewRedisStore(c, RedisConfig{Prefix: prefix})
}

func TestRedisStoreConformance(t *testing.T) {
	runConformance(t, func(t *testing.T) Store { return newRedisStore(t) })
}

// TestRedisKeyExpires: a key lives only while its allowance is not full.
func TestRedisKeyExpires(t *testing.T) {
	s := newRedisStore(t)
	if _, err := s.Take(t.Context(), "k", time.Now(), Limit{Rate: 1, Period: 2 * time.Second}, 1); err != nil {
		t.Fatal(err)
	}
	ttl, err := s.c.(*redis.Client).PTTL(t.Context(), s.prefix+"k").Result()
	if err != nil || ttl <= 0 || ttl > 2*time.Second {
		t.Fatalf("PTTL %v %v, want (0, 2s]", ttl, err)
	}
}

func TestRedisUnavailable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	l := Limit{Rate: 1, Period: time.Second}
	r, err := NewRedisStore(c, RedisConfig{}).Take(t.Context(), "k", time.Now(), l, 1)
	if !errors.Is(err, ErrUnavailable) || r.Allowed {
		t.Fatalf("fail closed: %+v %v", r, err)
	}
	r, err = NewRedisStore(c, RedisConfig{FailOpen: true}).Take(t.Context(), "k", time.Now(), l, 1)
	if !errors.Is(err, ErrUnavailable) || !r.Allowed {
		t.Fatalf("fail open: %+v %v", r, err)
	}
}

// TestRedisPausedNeverDoubleCounts: Redis pauses for longer than the read
// timeout, so the script runs there but its answer arrives late and
// go-redis runs it again. The retry must not take a second allowance: of
// a burst of 4, exactly 4 requests pass in all, whatever the pauses.
func TestRedisPausedNeverDoubleCounts(t *testing.T) {
	addr, _, prefix := wardtest.Redis(t, "rl")
	proxy := wardtest.NewProxy(t, addr)
	c := redis.NewClient(redisstore.Options(redisstore.Config{Addr: proxy.Addr()}))
	defer c.Close()
	s := NewRedisStore(c, RedisConfig{Prefix: prefix})
	l := Limit{Rate: 4, Period: time.Hour}
	now := time.Now()
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	allowed, unavailable := 0, 0
	for i := range 3 {
		proxy.Pause(110*time.Millisecond + time.Duration(i)*40*time.Millisecond)
		r, err := s.Take(t.Context(), "k", now, l, 1)
		switch {
		case err == nil && r.Allowed:
			allowed++
		case err == nil:
			t.Fatalf("take %d during a pause refused: %+v", i, r)
		case errors.Is(err, ErrUnavailable):
			unavailable++ // it may or may not have reached Redis
		default:
			t.Fatalf("take %d: %v", i, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		r, err := s.Take(t.Context(), "k", now, l, 1)
		if errors.Is(err, ErrUnavailable) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond) // answers the pause held, on a slow machine
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !r.Allowed {
			break
		}
		allowed++
	}
	// Each take costs one allowance at most: 4 pass in all, fewer only by
	// takes answered unavailable that ran on Redis all the same.
	if allowed > 4 || allowed < 4-unavailable {
		t.Fatalf("%d requests allowed in all (%d answered unavailable), want the burst of 4: a retried script took an allowance twice", allowed, unavailable)
	}
}

// TestRedisOutageBoundedUnderLoad: 256 decisions at once on a Redis that
// accepts and never answers each fail with ErrUnavailable within the
// default timeout (200 ms) plus 200 ms for scheduling on a busy machine,
// however long they queue for one of the pool's connections.
func TestRedisOutageBoundedUnderLoad(t *testing.T) {
	const calls = 256
	bound := DefaultRedisTimeout + 200*time.Millisecond
	if wardtest.Race {
		bound *= 2
	}
	c := redis.NewClient(redisstore.Options(redisstore.Config{Addr: wardtest.SilentServer(t)}))
	defer c.Close()
	s := NewRedisStore(c, RedisConfig{})
	l := Limit{Rate: 1, Period: time.Second}
	var slowest atomic.Int64
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			t0 := time.Now()
			r, err := s.Take(context.Background(), fmt.Sprint("k", i), t0, l, 1)
			if !errors.Is(err, ErrUnavailable) || r.Allowed {
				t.Errorf("take %d: %+v, %v; want a refusal wrapping ErrUnavailable", i, r, err)
			}
			d := int64(time.Since(t0))
			for cur := slowest.Load(); d > cur && !slowest.CompareAndSwap(cur, d); cur = slowest.Load() {
			}
		})
	}
	wg.Wait()
	if d := time.Duration(slowest.Load()); d > bound {
		t.Fatalf("slowest refusal of %d concurrent decisions took %v, want at most %v", calls, d, bound)
	}
}
