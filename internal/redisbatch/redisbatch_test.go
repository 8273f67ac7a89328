package redisbatch_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/internal/redisbatch"
	"github.com/wardauth/ward/internal/wardtest"
)

// countPipelines counts the pipelines a client sends.
type countPipelines struct{ n atomic.Int64 }

func (*countPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (*countPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *countPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// freshScript returns a script Redis has not cached (its source names a
// random value), so its first EVALSHA meets NOSCRIPT.
func freshScript(body string) *redis.Script {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return redis.NewScript("-- " + hex.EncodeToString(b[:]) + "\n" + body)
}

// TestConcurrentCallsShareAPipeline: many concurrent calls each get their
// own answer, in fewer pipelines than calls; the first pipeline meets
// NOSCRIPT and is sent again with EVAL.
func TestConcurrentCallsShareAPipeline(t *testing.T) {
	addr, _, prefix := wardtest.Redis(t, "batch")
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	var hook countPipelines
	c.AddHook(&hook)
	b := redisbatch.New(c)
	script := freshScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`)
	const calls = 300
	got := make([]int64, calls)
	errs := make([]error, calls)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			<-start
			got[i], errs[i] = b.Run(t.Context(), 5*time.Second, script, []string{prefix + fmt.Sprint("k", i)}, i+1).Int64()
		})
	}
	close(start)
	wg.Wait()
	for i := range calls {
		if errs[i] != nil || got[i] != int64(i+1) {
			t.Fatalf("call %d: %d, %v; want %d", i, got[i], errs[i], i+1)
		}
	}
	if n := hook.n.Load(); n >= calls {
		t.Fatalf("%d pipelines for %d concurrent calls: nothing was batched", n, calls)
	}
	t.Logf("%d calls in %d pipelines", calls, hook.n.Load())
}

// TestDeadlineBoundsEveryCall: on a Redis that accepts and never answers,
// 256 concurrent calls each fail within their timeout plus scheduling,
// however many pipelines they queue behind.
func TestDeadlineBoundsEveryCall(t *testing.T) {
	const calls, timeout = 256, 200 * time.Millisecond
	slack := 200 * time.Millisecond
	if wardtest.Race {
		slack += 400 * time.Millisecond
	}
	c := redis.NewClient(&redis.Options{Addr: wardtest.SilentServer(t), ReadTimeout: time.Hour, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	b := redisbatch.New(c)
	script := redis.NewScript(`return 1`)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			t0 := time.Now()
			err := b.Run(context.Background(), timeout, script, []string{fmt.Sprint("k", i)}).Err()
			if d := time.Since(t0); err == nil || d > timeout+slack {
				t.Errorf("call %d: %v after %v; want an error within %v", i, err, d, timeout+slack)
			}
		})
		if i%32 == 0 {
			time.Sleep(20 * time.Millisecond) // arrive while a pipeline waits
		}
	}
	wg.Wait()
}

// TestCallerDeadline: a caller's context deadline shorter than the
// timeout bounds its call.
func TestCallerDeadline(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: wardtest.SilentServer(t), ReadTimeout: time.Hour, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err := redisbatch.New(c).Run(ctx, time.Hour, redis.NewScript(`return 1`), []string{"k"}).Err()
	if d := time.Since(t0); err == nil || d > 50*time.Millisecond+200*time.Millisecond {
		t.Fatalf("%v after %v; want the caller's deadline to end the call", err, d)
	}
}
