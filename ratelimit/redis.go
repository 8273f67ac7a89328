package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/internal/redisbatch"
)

var _ Store = (*RedisStore)(nil)

// gcraScript is decide() in Lua, run atomically by Redis. Times are in
// microseconds (exact in Lua's doubles until the year 2255). The key
// expires when its TAT passes: an absent key is a full allowance.
//
// The value is "<tat> <attempt>": the TAT and a value unique to the call
// that wrote it. A call whose answer was lost (a read timeout while Redis
// paused) has run all the same; when go-redis runs the script again, it
// finds its own attempt and answers the same allowance again instead of
// taking a second one. (Values written before this format, a bare TAT,
// still read.)
//
//	KEYS[1] key; ARGV: now, interval*cost, tolerance, attempt
//	returns {allowed (0|1), tat after the decision}
//
// A cost of 0 (Limiter.Peek) reads and writes nothing back.
var gcraScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local inc = tonumber(ARGV[2])
local tol = tonumber(ARGV[3])
local v = redis.call('GET', KEYS[1]) or '0'
local sp = string.find(v, ' ', 1, true)
local tat = tonumber(sp and string.sub(v, 1, sp - 1) or v) or 0
if sp and string.sub(v, sp + 1) == ARGV[4] then
  return {1, string.format('%.0f', tat)}
end
if tat < now then tat = now end
local nxt = tat + inc
if nxt - now > tol then
  return {0, string.format('%.0f', tat)}
end
if inc == 0 then
  return {1, string.format('%.0f', tat)}
end
local ttl = math.ceil((nxt - now) / 1000)
if ttl < 1 then ttl = 1 end
redis.call('SET', KEYS[1], string.format('%.0f', nxt) .. ' ' .. ARGV[4], 'PX', ttl)
return {1, string.format('%.0f', nxt)}
`)

// RedisStore keeps the state in Redis, shared by every instance using the
// same Redis and prefix. Each decision is one EVALSHA of a GCRA script
// (sent in one pipeline with concurrent decisions);
// keys expire by themselves when their allowance is full again, so Redis
// holds only keys that were limited recently.
//
// Instances pass their own clock: keep them synchronised (NTP); a skew of
// s shifts a key's allowance by s.
type RedisStore struct {
	c        redis.Scripter
	batch    *redisbatch.Batcher // nil when c cannot pipeline
	prefix   string
	failOpen bool
	timeout  time.Duration

	// id and seq make each call's attempt value unique across instances.
	id  string
	seq atomic.Uint64
}

// RedisConfig configures a RedisStore.
type RedisConfig struct {
	// Prefix is put in front of every key; default "ward:rl:".
	Prefix string
	// FailOpen allows requests when Redis cannot be reached (the Result is
	// a full allowance and the error is still returned, wrapping
	// ErrUnavailable, for logs and metrics). The default refuses them:
	// callers answer 503.
	FailOpen bool
	// Timeout bounds each decision, retries included (default
	// DefaultRedisTimeout). Build the client with ContextTimeoutEnabled
	// (as redisstore.Options does) so that it bounds socket waits too.
	Timeout time.Duration
}

// DefaultRedisTimeout bounds a decision by default: redisstore.Budget of
// the default timeouts (one dial and one read).
const DefaultRedisTimeout = 200 * time.Millisecond

// NewRedisStore uses c (a *redis.Client, *redis.ClusterClient or failover
// client, built with short timeouts as in package redisstore; the
// caller closes it).
func NewRedisStore(c redis.Scripter, cfg RedisConfig) *RedisStore {
	if cfg.Prefix == "" {
		cfg.Prefix = "ward:rl:"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultRedisTimeout
	}
	var id [12]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read does not fail (Go 1.24)
	s := &RedisStore{c: c, prefix: cfg.Prefix, failOpen: cfg.FailOpen, timeout: cfg.Timeout,
		id: base64.RawURLEncoding.EncodeToString(id[:]) + ":"}
	if p, ok := c.(redisbatch.Pipeliner); ok {
		s.batch = redisbatch.New(p)
	}
	return s
}

// Take implements Store.
func (s *RedisStore) Take(ctx context.Context, key string, now time.Time, l Limit, cost int) (Result, error) {
	n := micros(now)
	res, err := s.run(ctx, []string{s.prefix + key},
		n, l.interval()*int64(cost), l.tolerance(), s.id+strconv.FormatUint(s.seq.Add(1), 36)).Slice()
	if err == nil && len(res) != 2 {
		err = errors.New("unexpected script reply")
	}
	var allowed, tat int64
	if err == nil {
		allowed, _ = res[0].(int64)
		s, _ := res[1].(string)
		tat, err = strconv.ParseInt(s, 10, 64)
	}
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		if s.failOpen {
			return Result{Allowed: true, Limit: l, Remaining: l.burst() - cost}, err
		}
		return Result{Limit: l}, err
	}
	return resultOf(allowed == 1, tat, n, l, cost), nil
}

// run runs the GCRA script within the timeout: in a pipeline with the
// decisions of concurrent requests (package redisbatch) when the client
// can pipeline, else on its own.
func (s *RedisStore) run(ctx context.Context, keys []string, args ...any) *redis.Cmd {
	if s.batch != nil {
		return s.batch.Run(ctx, s.timeout, gcraScript, keys, args...)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return gcraScript.Run(ctx, s.c, keys, args...)
}
