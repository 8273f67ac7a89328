package block

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/internal/wardtest"
)

// fakeClock is a Blocker's clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countHook counts the commands a Redis client sends.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

const refreshTest = 10 * time.Second // a fake interval: the clocks move by it

// redisBlocker is a Blocker on a RedisStore at c and prefix (one
// instance), with its own clock at t0.
func redisBlocker(t *testing.T, c *redis.Client, prefix string, opts Options) (*Blocker, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: t0}
	opts.Store, opts.Clock, opts.Refresh = NewRedisStore(c, RedisConfig{Prefix: prefix}), clk.Now, refreshTest
	opts.Config = Config{Address: testPolicy, Key: testPolicy}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b, clk
}

func offend(t *testing.T, b *Blocker, addr string) {
	t.Helper()
	for range testPolicy.Threshold {
		b.Strike(t.Context(), Offence{Addr: netip.MustParseAddr(addr), Reason: "bad_signature"})
	}
}

func blockedAddr(t *testing.T, b *Blocker, addr string) bool {
	t.Helper()
	_, ok := b.Check(t.Context(), netip.MustParseAddr(addr), "")
	return ok
}

// TestSnapshotCheckNoRedisCall: on Redis, checking a request (accepted
// or blocked, address and key) sends no command; the snapshot is read
// once a Refresh, whatever the number of requests.
func TestSnapshotCheckNoRedisCall(t *testing.T) {
	_, c, prefix := wardtest.Redis(t, "blocksnap")
	h := &countHook{}
	c.AddHook(h)
	b, clk := redisBlocker(t, c, prefix, Options{})
	blockedAddr(t, b, "192.0.2.1") // the first refresh
	offend(t, b, "198.51.100.7")
	h.n.Store(0)
	for range 100 {
		if _, ok := b.Check(t.Context(), netip.MustParseAddr("192.0.2.1"), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"); ok {
			t.Fatal("an innocent request blocked")
		}
		if !blockedAddr(t, b, "198.51.100.7") {
			t.Fatal("this instance's own block not enforced at once")
		}
	}
	if n := h.n.Load(); n != 0 {
		t.Fatalf("%d Redis commands for 200 checks, want 0", n)
	}
	clk.Add(refreshTest)
	for range 100 {
		blockedAddr(t, b, "192.0.2.1")
	}
	if n := h.n.Load(); n < 1 || n > 3 {
		t.Fatalf("%d Redis commands for 100 checks after a Refresh, want one refresh (2 or 3)", n)
	}
}

// TestSnapshotBlockReachesOtherInstance: a block started at instance A
// is enforced at B once B's Refresh interval has passed, and a lift at A
// reaches B the same way; A sees both at once.
func TestSnapshotBlockReachesOtherInstance(t *testing.T) {
	_, c, prefix := wardtest.Redis(t, "blocksnap")
	a, _ := redisBlocker(t, c, prefix, Options{})
	b, bclk := redisBlocker(t, c, prefix, Options{})
	blockedAddr(t, b, "192.0.2.1") // B's first refresh: nothing blocked
	offend(t, a, "203.0.113.5")
	if !blockedAddr(t, a, "203.0.113.5") {
		t.Fatal("A does not enforce its own block")
	}
	bclk.Add(refreshTest)
	if !blockedAddr(t, b, "203.0.113.5") {
		t.Fatal("B does not enforce A's block after a Refresh")
	}
	if lifted, err := a.Lift(t.Context(), Address, "203.0.113.5"); err != nil || !lifted {
		t.Fatal(lifted, err)
	}
	if blockedAddr(t, a, "203.0.113.5") {
		t.Fatal("A still enforces a block it lifted")
	}
	bclk.Add(refreshTest)
	if blockedAddr(t, b, "203.0.113.5") {
		t.Fatal("B still enforces A's lifted block after a Refresh")
	}
}

// TestSnapshotBounded: with more blocks in force than SnapshotMax, the
// snapshot keeps those ending last and counts the others.
func TestSnapshotBounded(t *testing.T) {
	_, c, prefix := wardtest.Redis(t, "blocksnap")
	a, aclk := redisBlocker(t, c, prefix, Options{})
	for _, addr := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		offend(t, a, addr)
		aclk.Add(time.Second) // each ends a second after the one before
	}
	reg := prometheus.NewRegistry()
	b, _ := redisBlocker(t, c, prefix, Options{SnapshotMax: 2, Registry: reg})
	if blockedAddr(t, b, "192.0.2.1") || !blockedAddr(t, b, "192.0.2.2") || !blockedAddr(t, b, "192.0.2.3") {
		t.Fatal("the snapshot did not keep the two blocks ending last")
	}
	if n := counter(t, reg, "ward_block_snapshot_truncated_total"); n != 1 {
		t.Fatalf("ward_block_snapshot_truncated_total %v, want 1", n)
	}
}

// TestSnapshotRefreshErrorKeepsLast: a refresh Redis cannot answer keeps
// the snapshot it had (its blocks stay enforced) and counts the error.
func TestSnapshotRefreshErrorKeepsLast(t *testing.T) {
	_, c, prefix := wardtest.Redis(t, "blocksnap")
	a, _ := redisBlocker(t, c, prefix, Options{})
	offend(t, a, "203.0.113.5")
	var broken atomic.Bool
	bc := redis.NewClient(&redis.Options{Addr: c.Options().Addr, MaxRetries: -1,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if broken.Load() {
				return nil, errors.New("redis down")
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}})
	t.Cleanup(func() { bc.Close() })
	reg := prometheus.NewRegistry()
	b, bclk := redisBlocker(t, bc, prefix, Options{Registry: reg})
	if !blockedAddr(t, b, "203.0.113.5") {
		t.Fatal("not blocked after the first refresh")
	}
	broken.Store(true)
	bc.Close() // drop the pooled connections
	bclk.Add(refreshTest)
	if !blockedAddr(t, b, "203.0.113.5") {
		t.Fatal("a failed refresh dropped the snapshot")
	}
	if n := counter(t, reg, "ward_block_store_errors_total"); n != 1 {
		t.Fatalf("ward_block_store_errors_total %v, want 1", n)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// TestSnapshotConcurrent: checks, strikes, lifts and refreshes at once
// (run with -race); the blocks started end up enforced.
func TestSnapshotConcurrent(t *testing.T) {
	_, c, prefix := wardtest.Redis(t, "blocksnap")
	b, clk := redisBlocker(t, c, prefix, Options{Logger: slog.New(slog.DiscardHandler)})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				addr := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
				b.Check(t.Context(), addr, "")
				if j%10 == 0 {
					b.Strike(t.Context(), Offence{Addr: addr, Reason: "bad_signature"})
					clk.Add(time.Second) // 40s in all: a few refreshes, one window
				}
			}
		})
	}
	wg.Wait()
	for i := range 8 {
		if !blockedAddr(t, b, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String()) {
			t.Errorf("192.0.2.%d: 5 strikes, not blocked", i)
		}
	}
}
