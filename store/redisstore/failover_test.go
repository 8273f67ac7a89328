package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/redistest"
	"github.com/wardauth/ward/store/redisstore"
)

// failoverKills is how many masters TestFailover kills per shape: 1, or
// WARD_TEST_REDIS_FAILOVERS for a better median.
func failoverKills(t *testing.T) int {
	if v := os.Getenv("WARD_TEST_REDIS_FAILOVERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("WARD_TEST_REDIS_FAILOVERS=%q", v)
		}
		return n
	}
	return 1
}

// TestFailover kills a master (SIGKILL) under a steady load of replay
// checks, on a Cluster and on a Sentinel group, with two stores on the
// same deployment: one with Redis's default asynchronous replication,
// one with MinReplicas 1 (WAIT). It asserts that every failed check
// fails closed (ErrUnavailable, never "accepted" or a false replay), and
// that the asynchronous store recovers without being rebuilt. It logs
// the window (kill to last failure) and how many writes acknowledged
// before the kill the new master forgot: proofs that could be replayed
// once. With WAIT none may be forgotten.
//
// On loopback a replica is a few microseconds behind, so a plain kill
// rarely loses anything. The "lagging" cases first freeze the replicas
// (SIGSTOP) for 300 ms, as a replica stalled or cut off by the network
// is, then kill the master and thaw them: writes acknowledged meanwhile
// exist on the dead master only. The asynchronous store must lose some
// (which shows that the test sees a loss), the WAIT store none, because
// it refused (503) what it could not replicate.
func TestFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("kills Redis masters: seconds per kill")
	}
	for _, tc := range []struct {
		shape string
		lag   bool
	}{{"cluster", false}, {"sentinel", false}, {"cluster", true}, {"sentinel", true}} {
		name := tc.shape
		if tc.lag {
			name += "/lagging"
		}
		shape := tc.shape
		t.Run(name, func(t *testing.T) {
			var windows []time.Duration
			var lost, checked [2]int
			for i := range failoverKills(t) {
				r := failoverOnce(t, shape, tc.lag)
				windows = append(windows, r.window[0])
				for m := range 2 {
					lost[m] += r.lost[m]
					checked[m] += r.checked[m]
				}
				t.Logf("kill %d: window %v (async), %v (wait; -1: not recovered while watched); lost %d/%d async, %d/%d wait",
					i+1, r.window[0].Round(time.Millisecond), r.window[1].Round(time.Millisecond),
					r.lost[0], r.checked[0], r.lost[1], r.checked[1])
			}
			slices.Sort(windows)
			t.Logf("%s: median window %v over %d kills; acknowledged-then-lost writes: async %d of %d, WAIT 1 %d of %d",
				shape, windows[len(windows)/2].Round(time.Millisecond), len(windows), lost[0], checked[0], lost[1], checked[1])
			if lost[1] != 0 {
				t.Errorf("%d writes acknowledged after WAIT were lost in the failover", lost[1])
			}
			if tc.lag && lost[0] == 0 {
				t.Errorf("no asynchronous write lost although the replicas lagged: the test cannot see a loss")
			}
		})
	}
}

type failoverResult struct {
	window  [2]time.Duration // kill to last failure: async, wait
	lost    [2]int           // acknowledged before the kill, usable again after
	checked [2]int
}

type ack struct {
	jti string
	at  time.Time
}

// failoverOnce starts a fresh deployment, loads it, kills the master of
// the load's keys (for a cluster, one of three), and measures.
func failoverOnce(t *testing.T, shape string, lag bool) failoverResult {
	var client func() redis.UniversalClient
	var master *redistest.Server
	var replicas []*redistest.Server
	cfg := redisstore.Config{DialTimeout: 100 * time.Millisecond, ReadTimeout: 250 * time.Millisecond}
	switch shape {
	case "cluster":
		c := redistest.StartCluster(t)
		client = func() redis.UniversalClient {
			return redisstore.NewClient(cfg, redisstore.Deployment{ClusterAddrs: c.Addrs()})
		}
		master = c.MasterFor(t, "any")
		replicas = []*redistest.Server{c.ReplicaOf(t, master)}
	default:
		g := redistest.StartSentinel(t)
		client = func() redis.UniversalClient {
			return redisstore.NewClient(cfg, redisstore.Deployment{SentinelMaster: redistest.MasterName, SentinelAddrs: g.SentinelAddrs()})
		}
		master = g.Master(t)
		replicas = g.Servers[1:]
	}
	var res failoverResult
	prefix := redistest.Prefix("fo")
	stores := [2]*redisstore.Store{}
	for m := range 2 {
		c := client()
		t.Cleanup(func() { c.Close() })
		mc := cfg
		mc.Prefix = prefix + strconv.Itoa(m) + ":"
		if m == 1 {
			mc.MinReplicas, mc.WaitTimeout = 1, 100*time.Millisecond
		}
		stores[m] = redisstore.NewFromClient(c, mc)
	}
	ctx, stop := context.WithCancel(context.Background())
	var mu sync.Mutex
	acks := [2][]ack{}
	lastFail := [2]time.Time{}
	lastErr := [2]error{}
	var wg sync.WaitGroup
	for m := range 2 {
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ctx.Err() == nil; n++ {
					jti := fmt.Sprintf("w%d-%d", w, n)
					err := stores[m].Use(context.Background(), "jkt", jti, time.Now().Add(10*time.Minute))
					now := time.Now()
					mu.Lock()
					switch {
					case err == nil:
						acks[m] = append(acks[m], ack{jti, now})
					case errors.Is(err, redisstore.ErrUnavailable):
						lastFail[m] = now
						lastErr[m] = err
					default: // dpop.ErrSeen for a fresh jti: never
						t.Errorf("fresh proof refused with %v, want nil or ErrUnavailable", err)
					}
					mu.Unlock()
				}
			}()
		}
	}
	time.Sleep(time.Second)
	if lag {
		for _, r := range replicas {
			r.Freeze()
		}
		master.DropReplicas(t)
		time.Sleep(300 * time.Millisecond)
	}
	killed := time.Now()
	master.Kill()
	for _, r := range replicas {
		r.Thaw()
	}
	// Watch until the asynchronous store has had 2 s without a failure
	// after failing at least once (30 s at most).
	deadline := killed.Add(30 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		lf := lastFail[0]
		mu.Unlock()
		if (lf.After(killed) && time.Since(lf) > 2*time.Second) || time.Now().After(deadline) {
			break
		}
	}
	stop()
	wg.Wait()
	for m := range 2 {
		res.window[m] = lastFail[m].Sub(killed)
		if m == 1 && time.Since(lastFail[m]) < time.Second {
			res.window[m] = -1
		}
		if !lastFail[0].After(killed) || time.Since(lastFail[0]) < 2*time.Second {
			t.Fatalf("no recovery within 30 s of the kill (last failure %v after it: %v)", lastFail[0].Sub(killed), lastErr[0])
		}
		res.lost[m], res.checked[m] = recheck(t, stores[m], acks[m], killed)
	}
	return res
}

// recheck uses again every proof acknowledged in the second before the
// kill, and counts those the store accepts: writes the failover lost.
func recheck(t *testing.T, s *redisstore.Store, acks []ack, killed time.Time) (lost, checked int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan string)
	var retry []string
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for jti := range next {
				err := s.Use(context.Background(), "jkt", jti, time.Now().Add(time.Minute))
				mu.Lock()
				switch {
				case err == nil:
					lost++
				case errors.Is(err, dpop.ErrSeen):
				case errors.Is(err, redisstore.ErrReplicas):
					// WAIT store, on a master left without a replica: the
					// claim ran first and found the key, or a nil would
					// have shown as lost.
				case errors.Is(err, redisstore.ErrUnavailable):
					retry = append(retry, jti)
				default:
					t.Errorf("recheck: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	var window []string
	for _, a := range acks {
		if !a.at.Before(killed.Add(-time.Second)) && !a.at.After(killed) {
			window = append(window, a.jti)
		}
	}
	// At most 1500 of them, evenly spread, to keep the test short.
	stride := max(1, len(window)/1500)
	for i := 0; i < len(window); i += stride {
		checked++
		next <- window[i]
	}
	close(next)
	wg.Wait()
	// A timeout says nothing: ask again, one at a time.
	for _, jti := range retry {
		var err error
		for range 5 {
			if err = s.Use(context.Background(), "jkt", jti, time.Now().Add(time.Minute)); !errors.Is(err, redisstore.ErrUnavailable) || errors.Is(err, redisstore.ErrReplicas) {
				break
			}
		}
		switch {
		case err == nil:
			lost++
		case errors.Is(err, dpop.ErrSeen), errors.Is(err, redisstore.ErrReplicas):
		default:
			t.Errorf("recheck of %s: %v", jti, err)
		}
	}
	return lost, checked
}
