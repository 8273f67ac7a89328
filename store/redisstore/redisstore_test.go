package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/redisstore"
)

// The tests run against the Redis at WARD_TEST_REDIS (default
// 127.0.0.1:6379). When it is unreachable they skip, unless
// WARD_TEST_REQUIRE_SERVICES=1 (as in .ci/run), when they fail. Each test
// uses a key prefix of its own and deletes its keys at cleanup.

const racers = 50

// newStore returns a store on the test Redis under a key prefix of the
// test's own (wardtest.Redis deletes its keys at cleanup), and a client to
// inspect it. Stores that must share keys pass the same cfg.Prefix, taken
// from an earlier newStore.
func newStore(t *testing.T, cfg redisstore.Config) (*redisstore.Store, *redis.Client) {
	t.Helper()
	addr, admin, prefix := wardtest.Redis(t, "rs")
	cfg.Addr = addr
	if cfg.Prefix == "" {
		cfg.Prefix = prefix
	}
	// The race detector slows everything down; keep the default timeouts
	// for the failure tests only.
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = time.Second
	}
	s, err := redisstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, admin
}

// scanKeys lists the keys under prefix with SCAN (never KEYS, which
// blocks a shared Redis and sees other users' keys).
func scanKeys(t *testing.T, c *redis.Client, prefix string) []string {
	t.Helper()
	var keys []string
	iter := c.Scan(t.Context(), 0, prefix+"*", 1000).Iterator()
	for iter.Next(t.Context()) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// testPrefix is a key prefix of the test's own, deleted at cleanup.
func testPrefix(t *testing.T) string {
	t.Helper()
	_, _, prefix := wardtest.Redis(t, "rs")
	return prefix
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestReplay(t *testing.T) {
	prefix := testPrefix(t)
	s, admin := newStore(t, redisstore.Config{Prefix: prefix})
	ctx := t.Context()
	exp := time.Now().Add(time.Minute)
	if err := s.Use(ctx, "jkt-1", "jti-1", exp); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := s.Use(ctx, "jkt-1", "jti-1", exp); !errors.Is(err, dpop.ErrSeen) {
		t.Fatalf("replay: %v, want ErrSeen", err)
	}
	// The pair is the key: another jti, or the same jti under another key,
	// is new.
	for _, p := range [][2]string{{"jkt-1", "jti-2"}, {"jkt-2", "jti-1"}, {"jkt-1\x00jti", "-1"}} {
		if err := s.Use(ctx, p[0], p[1], exp); err != nil {
			t.Fatalf("Use(%q, %q): %v", p[0], p[1], err)
		}
	}
	// A huge jti still makes a short key.
	if err := s.Use(ctx, "jkt-1", strings.Repeat("j", 64<<10), exp); err != nil {
		t.Fatal(err)
	}
	keys := scanKeys(t, admin, prefix)
	if len(keys) != 5 {
		t.Errorf("%d keys under the prefix, want 5", len(keys))
	}
	for _, k := range keys {
		if len(k)-len(prefix) > 100 {
			t.Errorf("key of %d bytes", len(k))
		}
	}
}

// TestExpiryHonoured checks the TTL Redis holds for a key (PXAT: the
// proof's exp), then that a key set to expire soon is accepted again once
// it has.
func TestExpiryHonoured(t *testing.T) {
	prefix := testPrefix(t)
	s, admin := newStore(t, redisstore.Config{Prefix: prefix})
	ctx := t.Context()
	if err := s.Use(ctx, "jkt", "jti", time.Now().Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	keys := scanKeys(t, admin, prefix)
	if len(keys) != 1 {
		t.Fatalf("keys under the prefix: %q, want one", keys)
	}
	var found bool
	for _, k := range keys {
		ttl, err := admin.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(k, "dpop:") {
			found = true
			if ttl < 28*time.Second || ttl > 30*time.Second {
				t.Errorf("PTTL = %v, want about 30s", ttl)
			}
		}
	}
	if !found {
		t.Fatalf("no dpop key among %q", keys)
	}

	// An exp in the past is kept for the minimum of one second, then
	// expires: poll instead of sleeping a fixed time.
	start := time.Now()
	if err := s.Use(ctx, "jkt", "short", start); err != nil {
		t.Fatal(err)
	}
	if err := s.Use(ctx, "jkt", "short", start); !errors.Is(err, dpop.ErrSeen) {
		t.Fatalf("replay before expiry: %v", err)
	}
	for {
		time.Sleep(50 * time.Millisecond)
		err := s.Use(ctx, "jkt", "short", time.Now().Add(time.Minute))
		if err == nil {
			break
		}
		if !errors.Is(err, dpop.ErrSeen) {
			t.Fatal(err)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("key did not expire")
		}
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("accepted again after %v, before the 1 s minimum", d)
	}
}

func TestUseOnce(t *testing.T) {
	s, _ := newStore(t, redisstore.Config{})
	ctx := t.Context()
	now := time.Now()
	if err := s.UseOnce(ctx, "client_assertion:c1:jti", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	err := s.UseOnce(ctx, "client_assertion:c1:jti", now.Add(time.Minute), now)
	if !errors.Is(err, store.ErrAlreadyUsed) {
		t.Fatalf("second use: %v, want ErrAlreadyUsed", err)
	}
	// One-time values and DPoP proofs live in separate key spaces.
	if err := s.Use(ctx, "client_assertion:c1:jti", "", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrency: of racers presenting one value at once, through two
// stores (as two gateway instances would), exactly one wins.
func TestConcurrency(t *testing.T) {
	prefix := testPrefix(t)
	a, _ := newStore(t, redisstore.Config{Prefix: prefix})
	b, _ := newStore(t, redisstore.Config{Prefix: prefix})
	ctx := t.Context()
	exp := time.Now().Add(time.Minute)
	for _, tc := range []struct {
		name string
		use  func(s *redisstore.Store) error
		lose error
	}{
		{"Use", func(s *redisstore.Store) error { return s.Use(ctx, "jkt", "jti", exp) }, dpop.ErrSeen},
		{"UseOnce", func(s *redisstore.Store) error { return s.UseOnce(ctx, "k", exp, time.Now()) }, store.ErrAlreadyUsed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := make([]error, racers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					<-start
					s := a
					if i%2 == 1 {
						s = b
					}
					errs[i] = tc.use(s)
				})
			}
			close(start)
			wg.Wait()
			won := 0
			for i, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, tc.lose):
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if won != 1 {
				t.Fatalf("%d calls won, want 1", won)
			}
		})
	}
}

// TestFailClosed: with Redis unreachable (a closed port, or a server that
// accepts and never answers), Use and UseOnce fail quickly with
// ErrUnavailable, never ErrSeen and never nil.
func TestFailClosed(t *testing.T) {
	blackhole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer blackhole.Close()
	go func() {
		for {
			c, err := blackhole.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	for name, addr := range map[string]string{"closed port": closedAddr(t), "silent server": blackhole.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			s, err := redisstore.New(redisstore.Config{Addr: addr, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			start := time.Now()
			err = s.Use(t.Context(), "jkt", "jti", time.Now().Add(time.Minute))
			if !errors.Is(err, redisstore.ErrUnavailable) || errors.Is(err, dpop.ErrSeen) {
				t.Fatalf("Use: %v, want ErrUnavailable", err)
			}
			// Timeouts of 100 ms, one retry: well under half a second.
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("Use took %v", d)
			}
			if err := s.UseOnce(t.Context(), "k", time.Now().Add(time.Minute), time.Now()); !errors.Is(err, redisstore.ErrUnavailable) || !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("UseOnce: %v, want ErrUnavailable (redisstore's and store's)", err)
			}
			if st := s.Stats(); st.Errors != 2 || st.AcceptedUnchecked != 0 {
				t.Errorf("Stats = %+v", st)
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "fail closed") {
				t.Errorf("log: %q", logs.String())
			}
		})
	}
}

// TestFailOpen: the degraded mode accepts unchecked, logs a warning and
// counts it.
func TestFailOpen(t *testing.T) {
	var logs bytes.Buffer
	s, err := redisstore.New(redisstore.Config{Addr: closedAddr(t), FailOpen: true,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 {
		if err := s.Use(t.Context(), "jkt", "jti", time.Now().Add(time.Minute)); err != nil {
			t.Fatalf("Use: %v, want nil (fail open)", err)
		}
	}
	if st := s.Stats(); st.Errors != 2 || st.AcceptedUnchecked != 2 {
		t.Errorf("Stats = %+v", st)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "accepting without replay check") {
		t.Errorf("log: %q", logs.String())
	}
	// Logged at most once a second.
	if n := strings.Count(logs.String(), "\n"); n != 1 {
		t.Errorf("%d log records, want 1", n)
	}
}

// TestVerifierAcrossInstances wires the store into two DPoP verifiers, as
// two gateways would: a proof accepted by one is refused by the other as a
// replay, and with Redis down the proof is refused as a server-side
// failure (replay_store_error, which the HTTP layers answer with 503).
func TestVerifierAcrossInstances(t *testing.T) {
	prefix := testPrefix(t)
	a, _ := newStore(t, redisstore.Config{Prefix: prefix})
	b, _ := newStore(t, redisstore.Config{Prefix: prefix})
	va, err := dpop.NewVerifier(dpop.WithReplayStore(a))
	if err != nil {
		t.Fatal(err)
	}
	vb, err := dpop.NewVerifier(dpop.WithReplayStore(b))
	if err != nil {
		t.Fatal(err)
	}
	key, err := dpop.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := dpop.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	const u = "https://api.example/resource"
	proof, err := signer.Proof("GET", u)
	if err != nil {
		t.Fatal(err)
	}
	req := dpop.Request{Proofs: []string{proof}, Method: "GET", URL: u}
	if _, err := va.Verify(t.Context(), req); err != nil {
		t.Fatalf("gateway A: %v", err)
	}
	if _, err := vb.Verify(t.Context(), req); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("gateway B: %v, want ErrReplayed", err)
	}

	dead, err := redisstore.New(redisstore.Config{Addr: closedAddr(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	vd, err := dpop.NewVerifier(dpop.WithReplayStore(dead))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := signer.Proof("GET", u)
	if err != nil {
		t.Fatal(err)
	}
	_, err = vd.Verify(t.Context(), dpop.Request{Proofs: []string{fresh}, Method: "GET", URL: u})
	if !errors.Is(err, dpop.ErrReplayStoreError) || !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("Redis down: %v, want ErrReplayStoreError wrapping ErrUnavailable", err)
	}
}

// TestPausedRedisNeverReportsReplay: Redis pauses for longer than the
// read timeout, so the first SET runs there but its answer arrives late and
// go-redis sends the command again. The retry finds the key the first
// attempt set; that is the caller's own write, not a replay. Every fresh
// value must come out accepted or unavailable (503), never ErrSeen or
// ErrAlreadyUsed, and a real replay afterwards is still refused.
func TestPausedRedisNeverReportsReplay(t *testing.T) {
	addr, _, prefix := wardtest.Redis(t, "rs")
	proxy := wardtest.NewProxy(t, addr)
	s, err := redisstore.New(redisstore.Config{Addr: proxy.Addr(), Prefix: prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	exp := time.Now().Add(time.Minute)
	if err := s.Use(ctx, "jkt", "warm-up", exp); err != nil {
		t.Fatal(err)
	}
	for _, pause := range []time.Duration{110 * time.Millisecond, 150 * time.Millisecond, 190 * time.Millisecond} {
		t.Run(pause.String(), func(t *testing.T) {
			for i := range 3 {
				jti := fmt.Sprintf("%v-%d", pause, i)
				proxy.Pause(pause)
				used := s.Use(ctx, "jkt", jti, exp)
				if errors.Is(used, dpop.ErrSeen) || used != nil && !errors.Is(used, redisstore.ErrUnavailable) {
					t.Fatalf("fresh proof during a %v pause: %v, want nil or ErrUnavailable", pause, used)
				}
				proxy.Pause(pause)
				once := s.UseOnce(ctx, jti, exp, time.Now())
				if errors.Is(once, store.ErrAlreadyUsed) || once != nil && !errors.Is(once, redisstore.ErrUnavailable) {
					t.Fatalf("fresh value during a %v pause: %v, want nil or ErrUnavailable", pause, once)
				}
				time.Sleep(pause)
				// A call answered unavailable may or may not have reached
				// Redis; one that was accepted must be refused from now on.
				if err := settled(func() error { return s.Use(ctx, "jkt", jti, exp) }); used == nil && !errors.Is(err, dpop.ErrSeen) {
					t.Fatalf("replay after the pause: %v, want ErrSeen", err)
				}
				if err := settled(func() error { return s.UseOnce(ctx, jti, exp, time.Now()) }); once == nil && !errors.Is(err, store.ErrAlreadyUsed) {
					t.Fatalf("second use after the pause: %v, want ErrAlreadyUsed", err)
				}
			}
		})
	}
}

// settled runs f until it returns something other than ErrUnavailable
// (the machine may be slow to deliver the answers a pause held), for at
// most 5 s.
func settled(f func() error) error {
	err := f()
	for deadline := time.Now().Add(5 * time.Second); errors.Is(err, redisstore.ErrUnavailable) && time.Now().Before(deadline); err = f() {
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// TestOutageBoundedUnderLoad: with Redis unreachable (a closed port, or a
// server that accepts and never answers), 256 calls at once, more than the
// pool has connections, each fail with ErrUnavailable within the
// documented bound (Budget: 200 ms by default) plus 200 ms for scheduling
// on a busy machine, however long they queue for a connection. (Before
// the budget, the slowest took 450-600 ms: a pool wait and a read timeout,
// twice.)
func TestOutageBoundedUnderLoad(t *testing.T) {
	const calls = 256
	bound := 400 * time.Millisecond
	if wardtest.Race {
		bound *= 2
	}
	blackhole := wardtest.SilentServer(t)
	for name, addr := range map[string]string{"closed port": closedAddr(t), "silent server": blackhole} {
		t.Run(name, func(t *testing.T) {
			s, err := redisstore.New(redisstore.Config{Addr: addr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			took := make([]time.Duration, calls)
			errs := make([]error, calls)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range calls {
				wg.Go(func() {
					<-start
					t0 := time.Now()
					errs[i] = s.Use(context.Background(), "jkt", fmt.Sprint("jti-", i), time.Now().Add(time.Minute))
					took[i] = time.Since(t0)
				})
			}
			close(start)
			wg.Wait()
			slowest := time.Duration(0)
			for i := range calls {
				if !errors.Is(errs[i], redisstore.ErrUnavailable) {
					t.Fatalf("call %d: %v, want ErrUnavailable", i, errs[i])
				}
				slowest = max(slowest, took[i])
			}
			if slowest > bound {
				t.Fatalf("slowest refusal of %d concurrent calls took %v, want at most %v", calls, slowest, bound)
			}
			t.Logf("slowest of %d refusals: %v", calls, slowest)
		})
	}
}
