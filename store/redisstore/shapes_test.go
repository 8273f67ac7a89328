package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/redistest"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/redisstore"
)

// TestShapes runs the store's cases against a Redis Cluster (three
// masters, a replica each) and a Sentinel group, started by the test:
// replay refused, UseOnce, one winner among racers, revocation wake-ups
// (PUBLISH is broadcast to every node of a cluster), and
// WAIT for replicas (MinReplicas).
func TestShapes(t *testing.T) {
	for _, sh := range redistest.Shapes(t) {
		t.Run(sh.Name, func(t *testing.T) {
			newStore := func(prefix string, cfg redisstore.Config) *redisstore.Store {
				cfg.Prefix, cfg.ReadTimeout = prefix, time.Second
				return redisstore.NewFromClient(sh.New(t), cfg)
			}
			prefix := redistest.Prefix("rs")
			s := newStore(prefix, redisstore.Config{})
			t.Run("replay", func(t *testing.T) { shapeReplay(t, s) })
			t.Run("keys", func(t *testing.T) {
				// Every Use is one key; the keys spread over the masters.
				if n := len(redistest.ScanKeys(t, sh.New(t), prefix)); n < 3 {
					t.Fatalf("%d keys under the prefix, want at least 3", n)
				}
			})
			t.Run("racers", func(t *testing.T) { shapeRacers(t, s) })
			t.Run("revocations", func(t *testing.T) {
				p := redistest.Prefix("rs")
				shapeRevocations(t, newStore(p, redisstore.Config{}), newStore(p, redisstore.Config{}))
			})
			t.Run("wait", func(t *testing.T) {
				// One replica per master in the cluster, two in the group.
				w := newStore(prefix, redisstore.Config{MinReplicas: 1, WaitTimeout: time.Second})
				shapeReplay(t, w)
				tooMany := newStore(prefix, redisstore.Config{MinReplicas: 3, WaitTimeout: 50 * time.Millisecond})
				err := tooMany.Use(t.Context(), "jkt-w", "jti-w", time.Now().Add(time.Minute))
				if !errors.Is(err, redisstore.ErrUnavailable) || !errors.Is(err, redisstore.ErrReplicas) {
					t.Fatalf("three replicas wanted: %v, want ErrUnavailable (fail closed)", err)
				}
			})
		})
	}
}

func shapeReplay(t *testing.T, s *redisstore.Store) {
	ctx := t.Context()
	exp := time.Now().Add(time.Minute)
	tag := redistest.Prefix("")
	for _, jti := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := s.Use(ctx, "jkt"+tag, jti, exp); err != nil {
			t.Fatalf("first use of %s: %v", jti, err)
		}
		if err := s.Use(ctx, "jkt"+tag, jti, exp); !errors.Is(err, dpop.ErrSeen) {
			t.Fatalf("replay of %s: %v, want ErrSeen", jti, err)
		}
	}
	now := time.Now()
	if err := s.UseOnce(ctx, "once"+tag, now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := s.UseOnce(ctx, "once"+tag, now.Add(time.Minute), now); !errors.Is(err, store.ErrAlreadyUsed) {
		t.Fatalf("second UseOnce: %v", err)
	}
}

func shapeRacers(t *testing.T, s *redisstore.Store) {
	var wins atomic.Int32
	var wg sync.WaitGroup
	exp := time.Now().Add(time.Minute)
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Use(context.Background(), "jkt-race", "jti-race", exp)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, dpop.ErrSeen):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d racers accepted, want 1", wins.Load())
	}
}

func shapeRevocations(t *testing.T, pub, sub *redisstore.Store) {
	var woken atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sub.RevocationWakeups(ctx, func() { woken.Add(1) }); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for woken.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no wake-up within 10s")
		}
		if err := pub.PublishRevocation(t.Context()); err != nil && !errors.Is(err, redis.ErrClosed) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
