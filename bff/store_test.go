package bff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/store/redisstore"
)

func newRedisStore(t testing.TB) (*RedisStore, *redis.Client) {
	_, c, prefix := wardtest.Redis(t, "bff")
	return NewRedisStore(c, prefix), c
}

// storeSuite is what every Store must do.
func storeSuite(t *testing.T, s Store, wait func(time.Duration)) {
	ctx := context.Background()
	t.Run("put get delete", func(t *testing.T) {
		if _, err := s.Get(ctx, "a"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get missing: %v", err)
		}
		if err := s.Put(ctx, "a", []byte("one"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "a", []byte("two"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, err := s.Get(ctx, "a"); err != nil || string(v) != "two" {
			t.Fatalf("get: %q %v", v, err)
		}
		if err := s.Delete(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "a"); err != nil {
			t.Fatalf("delete missing: %v", err)
		}
		if _, err := s.Get(ctx, "a"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		if err := s.Put(ctx, "e", []byte("x"), 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		wait(300 * time.Millisecond)
		if _, err := s.Get(ctx, "e"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired value: %v", err)
		}
		if _, err := s.Take(ctx, "e"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired take: %v", err)
		}
	})
	t.Run("take is single use under concurrency", func(t *testing.T) {
		for round := range 5 {
			k := fmt.Sprintf("t%d", round)
			if err := s.Put(ctx, k, []byte("flow"), time.Minute); err != nil {
				t.Fatal(err)
			}
			var got atomic.Int32
			var wg sync.WaitGroup
			for range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if v, err := s.Take(ctx, k); err == nil && bytes.Equal(v, []byte("flow")) {
						got.Add(1)
					}
				}()
			}
			wg.Wait()
			if got.Load() != 1 {
				t.Fatalf("round %d: %d takers got the value, want 1", round, got.Load())
			}
		}
	})
	t.Run("lock excludes", func(t *testing.T) {
		var in, maxIn atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				unlock, err := s.Lock(ctx, "L", 10*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				n := in.Add(1)
				for {
					m := maxIn.Load()
					if n <= m || maxIn.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(2 * time.Millisecond)
				in.Add(-1)
				unlock()
			}()
		}
		wg.Wait()
		if maxIn.Load() != 1 {
			t.Fatalf("%d holders at once", maxIn.Load())
		}
	})
	t.Run("lock waits for ctx", func(t *testing.T) {
		unlock, err := s.Lock(ctx, "W", 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		c, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if _, err := s.Lock(c, "W", 10*time.Second); !errors.Is(err, ErrLocked) {
			t.Fatalf("second lock: %v, want ErrLocked", err)
		}
		// Another key is free.
		u2, err := s.Lock(ctx, "W2", 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		u2()
	})
}

func TestMemoryStore(t *testing.T) {
	var off atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(off.Load())) }
	storeSuite(t, NewMemoryStore(0, clock), func(d time.Duration) { off.Add(int64(d)) })
}

func TestMemoryStoreBound(t *testing.T) {
	ctx := context.Background()
	var off atomic.Int64
	s := NewMemoryStore(100, func() time.Time { return time.Now().Add(time.Duration(off.Load())) })
	for i := range 100 {
		if err := s.Put(ctx, fmt.Sprint(i), []byte("x"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "one more", []byte("x"), time.Minute); !errors.Is(err, ErrFull) {
		t.Fatalf("over the bound: %v, want ErrFull", err)
	}
	if err := s.Put(ctx, "5", []byte("y"), time.Minute); err != nil {
		t.Fatalf("replacing a live entry when full: %v", err)
	}
	off.Add(int64(2 * time.Minute)) // all expire: room again
	if err := s.Put(ctx, "one more", []byte("x"), time.Minute); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if n := s.Len(); n != 1 {
		t.Fatalf("%d entries after the sweep, want 1", n)
	}
}

func TestRedisStore(t *testing.T) {
	s, _ := newRedisStore(t)
	storeSuite(t, s, time.Sleep)
}

// A lock whose holder died (a crashed instance) is freed by its ttl, and
// a late unlock by that holder does not free another's lock.
func TestRedisLockExpiry(t *testing.T) {
	s, _ := newRedisStore(t)
	ctx := context.Background()
	stale, err := s.Lock(ctx, "X", 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fresh, err := s.Lock(ctx, "X", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Fatal("the lock was taken while held")
	}
	stale() // the dead holder's late unlock
	c2, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := s.Lock(c2, "X", time.Second); !errors.Is(err, ErrLocked) {
		t.Fatalf("a stale unlock freed the new holder's lock: %v", err)
	}
	fresh()
}

func TestRedisStoreUnavailable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	s := NewRedisStore(c, "x:")
	ctx := context.Background()
	if err := s.Put(ctx, "k", []byte("v"), time.Minute); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("put: %v", err)
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("get: %v", err)
	}
	if _, err := s.Lock(ctx, "k", time.Second); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("lock: %v", err)
	}
}

// Two sites (two gateway instances) on one Redis with one sealing key: a
// login at one is a session at the other, a refresh there is seen here,
// and a logout at either ends it for both.
func TestSessionsSharedThroughRedis(t *testing.T) {
	shared, _ := newRedisStore(t)
	key := bytes.Repeat([]byte{9}, 32)
	e := newEnv(t, func(_ *config.BFF, o *Options) {
		o.Store, o.SessionKey = shared, key
	})
	b := e.browser()
	b.login()
	other, err := New(e.site.cfg, Options{Issuer: e.site.opts.Issuer, ClientSecret: e.secret, Store: shared, SessionKey: key, Logger: e.site.log})
	if err != nil {
		t.Fatal(err)
	}
	sid, before := b.session()
	if before == nil {
		t.Fatal("no session in Redis")
	}
	if _, s2, e2 := other.active(context.Background(), requestWithCookie(other.SessionCookie(), sid), false); e2 != nil || s2.Subject != "u-alice" {
		t.Fatalf("the other instance does not see the session: %v", e2)
	}
	// A refresh at the other instance is what this one uses next.
	if err := other.put(context.Background(), sid, func() *session { s := *before; s.Expiry = time.Now(); return &s }()); err != nil {
		t.Fatal(err)
	}
	if _, s2, e2 := other.active(context.Background(), requestWithCookie(other.SessionCookie(), sid), true); e2 != nil || s2.RefreshToken == before.RefreshToken {
		t.Fatalf("refresh at the other instance: %v", e2)
	}
	if code, m, _ := b.app("GET", "/bff/api/x", ""); code != 200 {
		t.Fatalf("this instance after the other's refresh: %d %v", code, m)
	}
	// Wrong key: another deployment's instance cannot open the sessions.
	stranger, _ := New(e.site.cfg, Options{Issuer: e.site.opts.Issuer, ClientSecret: e.secret, Store: shared, SessionKey: bytes.Repeat([]byte{1}, 32), Logger: e.site.log})
	if _, _, e3 := stranger.active(context.Background(), requestWithCookie(other.SessionCookie(), sid), false); e3 == nil {
		t.Fatal("a site with another key opened the session")
	}
	if code, m, _ := b.app("GET", "/bff/user", ""); code != 200 {
		t.Fatalf("a site with another key ended the session: %d %v", code, m)
	}
}

// TestRedisStorePaused: Redis pauses for longer than the read timeout, so
// a command runs there but its answer arrives late and go-redis sends it
// again. The retry must see its own earlier write: a lock it took is its
// own (not "busy"), a value it took is handed back (not "not found").
// Either succeeds or fails as unavailable, and single use still holds.
func TestRedisStorePaused(t *testing.T) {
	addr, _, prefix := wardtest.Redis(t, "bff")
	proxy := wardtest.NewProxy(t, addr)
	c := redis.NewClient(redisstore.Options(redisstore.Config{Addr: proxy.Addr()}))
	defer c.Close()
	s := NewRedisStore(c, prefix)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for i, pause := range []time.Duration{110 * time.Millisecond, 150 * time.Millisecond, 190 * time.Millisecond} {
		t.Run(pause.String(), func(t *testing.T) {
			key := fmt.Sprint("k", i)
			if err := s.Put(ctx, key, []byte("state"), time.Minute); err != nil {
				t.Fatal(err)
			}
			proxy.Pause(pause)
			b, err := s.Take(ctx, key)
			switch {
			case err == nil && string(b) != "state":
				t.Fatalf("take during a pause: %q", b)
			case err != nil && !errors.Is(err, ErrUnavailable):
				t.Fatalf("take during a %v pause: %v, want the value or ErrUnavailable", pause, err)
			}
			time.Sleep(pause)
			if b, err := settled(func() ([]byte, error) { return s.Take(ctx, key) }); err == nil {
				t.Fatalf("taken twice: %q", b)
			}
			if _, err := settled(func() ([]byte, error) { return s.Get(ctx, key) }); !errors.Is(err, ErrNotFound) {
				t.Fatalf("get after take: %v, want ErrNotFound", err)
			}

			proxy.Pause(pause)
			lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			unlock, err := s.Lock(lctx, key, 10*time.Second)
			if err != nil && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("lock during a %v pause: %v, want the lock or ErrUnavailable", pause, err)
			}
			time.Sleep(pause)
			if err == nil {
				_, err := settled(func() ([]byte, error) {
					busy, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
					defer cancel()
					_, err := s.Lock(busy, key, time.Second)
					return nil, err
				})
				if !errors.Is(err, ErrLocked) {
					t.Fatalf("a held lock was taken again: %v", err)
				}
				unlock()
			}
		})
	}
}

// settled runs f until it returns something other than ErrUnavailable
// (a slow machine may deliver the answers a pause held late), for at most
// 5 s.
func settled(f func() ([]byte, error)) ([]byte, error) {
	b, err := f()
	for deadline := time.Now().Add(5 * time.Second); errors.Is(err, ErrUnavailable) && time.Now().Before(deadline); b, err = f() {
		time.Sleep(20 * time.Millisecond)
	}
	return b, err
}

// TestRedisStoreOutageBounded: on a Redis that accepts and never answers,
// 256 concurrent calls of each kind fail with ErrUnavailable within
// RedisTimeout plus 200 ms for scheduling on a busy machine, however
// long they queue for one of the pool's connections.
func TestRedisStoreOutageBounded(t *testing.T) {
	const calls = 256
	bound := RedisTimeout + 200*time.Millisecond
	if wardtest.Race {
		bound *= 2
	}
	c := redis.NewClient(redisstore.Options(redisstore.Config{Addr: wardtest.SilentServer(t)}))
	defer c.Close()
	s := NewRedisStore(c, "x:")
	ops := map[string]func(ctx context.Context, k string) error{
		"put":  func(ctx context.Context, k string) error { return s.Put(ctx, k, []byte("v"), time.Minute) },
		"get":  func(ctx context.Context, k string) error { _, err := s.Get(ctx, k); return err },
		"take": func(ctx context.Context, k string) error { _, err := s.Take(ctx, k); return err },
		"lock": func(ctx context.Context, k string) error { _, err := s.Lock(ctx, k, time.Second); return err },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			var slowest atomic.Int64
			var wg sync.WaitGroup
			for i := range calls {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					t0 := time.Now()
					if err := op(ctx, fmt.Sprint("k", i)); !errors.Is(err, ErrUnavailable) {
						t.Errorf("%s %d: %v, want ErrUnavailable", name, i, err)
					}
					d := int64(time.Since(t0))
					for cur := slowest.Load(); d > cur && !slowest.CompareAndSwap(cur, d); cur = slowest.Load() {
					}
				})
			}
			wg.Wait()
			if d := time.Duration(slowest.Load()); d > bound {
				t.Fatalf("slowest of %d concurrent %s calls took %v, want at most %v", calls, name, d, bound)
			}
		})
	}
}
