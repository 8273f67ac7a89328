// Package redisbatch sends the Lua script calls of concurrent requests to
// Redis together: one pipeline, so one write and one read on one
// connection, for every call that arrived while the previous pipeline was
// on its way. Under load a request's Redis work then costs a share of a
// round trip instead of a whole one, in Ward's CPU (syscalls, wake-ups,
// the pool) and in Redis's; an idle server sends each call at once, as a
// pipeline of one.
//
// Every script sent through a Batcher must be safe to run twice: go-redis
// sends a whole pipeline again when its answer timed out, and a pipeline
// that met a flushed script cache is sent again with EVAL.
package redisbatch

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// MaxBatch is the most calls one pipeline carries.
const MaxBatch = 256

// Pipeliner is what a Batcher needs of a client: *redis.Client,
// *redis.ClusterClient and the failover client have it.
type Pipeliner interface {
	Pipeline() redis.Pipeliner
}

// Batcher batches script calls on one client. At most one pipeline is on
// its way at a time; calls that arrive meanwhile wait for it and go in the
// next. It is safe for concurrent use; the zero value is not usable.
type Batcher struct {
	c Pipeliner

	mu      sync.Mutex
	pending []*call
	busy    bool // a caller is leading a batch
}

// New returns a Batcher on c.
func New(c Pipeliner) *Batcher { return &Batcher{c: c} }

type call struct {
	script   *redis.Script
	keys     []string
	args     []any
	deadline time.Time
	cmd      *redis.Cmd
	// done receives true when this call's goroutine is to lead the next
	// batch, false when cmd holds its answer.
	done chan bool
}

// Run runs script with keys and args in the next pipeline and returns its
// answer. The call fails with context.DeadlineExceeded when it cannot be
// answered within timeout (or by ctx's deadline, if sooner), however many
// calls queue: a pipeline's deadline is the earliest of its calls', and a
// call already past its deadline is not sent. Cancelling ctx does not end
// the wait early; the deadline bounds it.
func (b *Batcher) Run(ctx context.Context, timeout time.Duration, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c := &call{script: script, keys: keys, args: args, deadline: deadline, done: make(chan bool, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	lead := !b.busy
	b.busy = true
	b.mu.Unlock()
	if !lead && !<-c.done {
		return c.cmd
	}
	b.lead() // the leader is pending[0], so its call is in the batch
	return c.cmd
}

// lead sends the pending calls (MaxBatch at most), hands the lead to the
// first call still waiting, if any, and answers the batch.
func (b *Batcher) lead() {
	b.mu.Lock()
	n := min(len(b.pending), MaxBatch)
	batch := b.pending[:n:n]
	b.pending = b.pending[n:]
	if len(b.pending) == 0 {
		b.pending = nil
	}
	b.mu.Unlock()

	b.exec(batch)

	b.mu.Lock()
	var next *call
	if len(b.pending) > 0 {
		next = b.pending[0]
	} else {
		b.busy = false
	}
	b.mu.Unlock()
	if next != nil {
		next.done <- true
	}
	for _, c := range batch {
		c.done <- false
	}
}

// exec sends batch as one pipeline of EVALSHA, and once more with EVAL
// for the calls whose script Redis did not have (NOSCRIPT).
func (b *Batcher) exec(batch []*call) {
	now := time.Now()
	live := batch[:0:0]
	deadline := time.Time{}
	for _, c := range batch {
		if !now.Before(c.deadline) {
			c.cmd = redis.NewCmd(context.Background())
			c.cmd.SetErr(context.DeadlineExceeded)
			continue
		}
		if deadline.IsZero() || c.deadline.Before(deadline) {
			deadline = c.deadline
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	b.pipeline(ctx, live, false)
	var retry []*call
	for _, c := range live {
		if err := c.cmd.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			retry = append(retry, c)
		}
	}
	if len(retry) > 0 {
		b.pipeline(ctx, retry, true)
	}
}

func (b *Batcher) pipeline(ctx context.Context, calls []*call, eval bool) {
	p := b.c.Pipeline()
	for _, c := range calls {
		if eval {
			c.cmd = c.script.Eval(ctx, p, c.keys, c.args...)
		} else {
			c.cmd = c.script.EvalSha(ctx, p, c.keys, c.args...)
		}
	}
	_, _ = p.Exec(ctx) // each call's error is in its cmd
}
