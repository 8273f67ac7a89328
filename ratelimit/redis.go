package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

var _ Store = (*RedisStore)(nil)

// gcraScript is decide() in Lua, run atomically by Redis. Times are in
// microseconds (exact in Lua's doubles until the year 2255). The key
// expires when its TAT passes: an absent key is a full allowance.
//
//	KEYS[1] key; ARGV: now, interval*cost, tolerance
//	returns {allowed (0|1), tat after the decision}
//
// A cost of 0 (Limiter.Peek) reads and writes nothing back.
var gcraScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local inc = tonumber(ARGV[2])
local tol = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
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
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', ttl)
return {1, string.format('%.0f', nxt)}
`)

// RedisStore keeps the state in Redis, shared by every instance using the
// same Redis and prefix. Each decision is one EVALSHA of a GCRA script;
// keys expire by themselves when their allowance is full again, so Redis
// holds only keys that were limited recently.
//
// Instances pass their own clock: keep them synchronised (NTP); a skew of
// s shifts a key's allowance by s.
type RedisStore struct {
	c        redis.Scripter
	prefix   string
	failOpen bool
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
}

// NewRedisStore uses c (a *redis.Client, *redis.ClusterClient or failover
// client, built with short timeouts as in package redisstore; the
// caller closes it).
func NewRedisStore(c redis.Scripter, cfg RedisConfig) *RedisStore {
	if cfg.Prefix == "" {
		cfg.Prefix = "ward:rl:"
	}
	return &RedisStore{c: c, prefix: cfg.Prefix, failOpen: cfg.FailOpen}
}

// Take implements Store.
func (s *RedisStore) Take(ctx context.Context, key string, now time.Time, l Limit, cost int) (Result, error) {
	n := micros(now)
	res, err := gcraScript.Run(ctx, s.c, []string{s.prefix + key},
		n, l.interval()*int64(cost), l.tolerance()).Slice()
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
