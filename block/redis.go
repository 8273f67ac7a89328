package block

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/internal/redisbatch"
)

var _ Store = (*RedisStore)(nil)

// strikeScript is strike() (memory.go) in Lua, run atomically on one key,
// a hash: s strikes, w window end, o offences, u blocked until, f
// offences forgotten after; times in µs. The key expires when its window
// and its offence memory are both past.
//
//	KEYS[1] value key; ARGV: now, window, threshold, period, max_period
//	returns {started (0|1), until, offences}
var strikeScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local v = redis.call('HMGET', KEYS[1], 's', 'w', 'o', 'u', 'f')
local s, w, o, u, f = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0, tonumber(v[5]) or 0
if u > now then return {0, string.format('%.0f', u), o} end
local win, thr, per, maxp = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if w <= now then s = 0; w = now + win end
s = s + 1
if s < thr then
  redis.call('HSET', KEYS[1], 's', s, 'w', string.format('%.0f', w))
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((math.max(w, f) - now) / 1000)))
  return {0, '0', o}
end
if f <= now then o = 0 end
o = o + 1
local d = per
for i = 2, o do
  if d >= maxp then break end
  d = d * 2
end
if d > maxp then d = maxp end
u = now + d
f = u + maxp
redis.call('HSET', KEYS[1], 's', 0, 'w', 0, 'o', o, 'u', string.format('%.0f', u), 'f', string.format('%.0f', f))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((f - now) / 1000)))
return {1, string.format('%.0f', u), o}
`)

// checkScript reads when the value's block ends ('0': none). A script, so
// that concurrent checks share a pipeline (package redisbatch).
var checkScript = redis.NewScript(`return redis.call('HGET', KEYS[1], 'u') or '0'`)

// liftScript deletes the value's key and returns when its block ended.
var liftScript = redis.NewScript(`
local u = redis.call('HGET', KEYS[1], 'u') or '0'
redis.call('DEL', KEYS[1])
return u
`)

// RedisStore keeps strikes and blocks in Redis, shared by every instance
// using the same Redis and prefix: one hash per value (one single-key
// script a strike, a pipelined read a check), and a sorted set indexing
// the blocks in force for List and Snapshot (written after a block
// starts, cleaned of ended blocks as it goes). A Blocker on it checks
// requests against a Snapshot, not Check. Every script touches one key, so it runs on
// Redis Cluster as it is.
type RedisStore struct {
	c       redis.Scripter
	batch   *redisbatch.Batcher // nil when c cannot pipeline
	prefix  string
	timeout time.Duration
}

// RedisConfig configures a RedisStore.
type RedisConfig struct {
	// Prefix is put in front of every key; default "ward:block:".
	Prefix string
	// Timeout bounds each call (default 200ms).
	Timeout time.Duration
}

// NewRedisStore uses c (a *redis.Client, *redis.ClusterClient or failover
// client built with short timeouts as in package redisstore; the caller
// closes it).
func NewRedisStore(c redis.Scripter, cfg RedisConfig) *RedisStore {
	if cfg.Prefix == "" {
		cfg.Prefix = "ward:block:"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 200 * time.Millisecond
	}
	s := &RedisStore{c: c, prefix: cfg.Prefix, timeout: cfg.Timeout}
	if p, ok := c.(redisbatch.Pipeliner); ok {
		s.batch = redisbatch.New(p)
	}
	return s
}

func (s *RedisStore) key(kind Kind, value string) string {
	return s.prefix + string(kind) + ":" + value
}
func (s *RedisStore) index() string { return s.prefix + "index" }

func unavailable(err error) error { return fmt.Errorf("%w: %w", ErrUnavailable, err) }

func (s *RedisStore) run(ctx context.Context, sc *redis.Script, keys []string, args ...any) *redis.Cmd {
	if s.batch != nil {
		return s.batch.Run(ctx, s.timeout, sc, keys, args...)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return sc.Run(ctx, s.c, keys, args...)
}

// Check implements Store. An error wraps ErrUnavailable.
func (s *RedisStore) Check(ctx context.Context, kind Kind, value string, now time.Time) (time.Time, error) {
	v, err := s.run(ctx, checkScript, []string{s.key(kind, value)}).Text()
	if err != nil {
		return time.Time{}, unavailable(err)
	}
	u, _ := strconv.ParseInt(v, 10, 64)
	if u <= now.UnixMicro() {
		return time.Time{}, nil
	}
	return time.UnixMicro(u), nil
}

// Strike implements Store. A retried call (a read timeout) may count one
// offence twice; an error wraps ErrUnavailable.
func (s *RedisStore) Strike(ctx context.Context, kind Kind, value string, now time.Time, p Policy) (Block, bool, error) {
	if err := checkValue(kind, value); err != nil {
		return Block{}, false, err
	}
	res, err := s.run(ctx, strikeScript, []string{s.key(kind, value)}, now.UnixMicro(), p.Window.Microseconds(),
		p.Threshold, p.Period.Microseconds(), p.MaxPeriod.Microseconds()).Slice()
	if err == nil && len(res) != 3 {
		err = errors.New("unexpected script reply")
	}
	if err != nil {
		return Block{}, false, unavailable(err)
	}
	started, _ := res[0].(int64)
	us, _ := res[1].(string)
	offences, _ := res[2].(int64)
	if started != 1 {
		return Block{}, false, nil
	}
	u, _ := strconv.ParseInt(us, 10, 64)
	b := Block{Kind: kind, Value: value, Until: time.UnixMicro(u), Offences: int(offences)}
	// The index only serves List: a failure here leaves the block in
	// force, unlisted until the next one starts.
	s.indexBlock(ctx, b, now)
	return b, true, nil
}

func (s *RedisStore) indexBlock(ctx context.Context, b Block, now time.Time) {
	c, ok := s.c.(redis.Cmdable)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, _ = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, s.index(), redis.Z{Score: float64(b.Until.UnixMicro()), Member: string(b.Kind) + ":" + b.Value})
		p.ZRemRangeByScore(ctx, s.index(), "-inf", strconv.FormatInt(now.UnixMicro(), 10))
		return nil
	})
}

// MaxList bounds what List returns.
const MaxList = 10000

// List implements Store: the index's blocks ending after now, each read
// again from its own key (a lifted block is gone from there).
func (s *RedisStore) List(ctx context.Context, now time.Time) ([]Block, error) {
	c, ok := s.c.(redis.Cmdable)
	if !ok {
		return nil, errors.New("block: List needs a redis.Cmdable client")
	}
	ctx, cancel := context.WithTimeout(ctx, 4*s.timeout)
	defer cancel()
	members, err := c.ZRangeByScore(ctx, s.index(), &redis.ZRangeBy{Min: "(" + strconv.FormatInt(now.UnixMicro(), 10),
		Max: "+inf", Count: MaxList}).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	cmds := make([]*redis.SliceCmd, len(members))
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			cmds[i] = p.HMGet(ctx, s.prefix+m, "u", "o")
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	var out []Block
	for i, m := range members {
		b, ok := s.parseMember(m, cmds[i].Val(), now)
		if ok {
			out = append(out, b)
		}
	}
	sortBlocks(out)
	return out, nil
}

// parseMember reads a listed block from its index member and its key's
// fields (u, o); false when it is no block in force at now.
func (s *RedisStore) parseMember(m string, fields []any, now time.Time) (Block, bool) {
	var kind Kind
	var value string
	for _, k := range Kinds {
		if len(m) > len(k) && m[:len(k)] == string(k) && m[len(k)] == ':' {
			kind, value = k, m[len(k)+1:]
		}
	}
	if kind == "" || len(fields) != 2 {
		return Block{}, false
	}
	us, _ := fields[0].(string)
	os, _ := fields[1].(string)
	u, _ := strconv.ParseInt(us, 10, 64)
	o, _ := strconv.Atoi(os)
	if u <= now.UnixMicro() {
		return Block{}, false
	}
	return Block{Kind: kind, Value: value, Until: time.UnixMicro(u), Offences: o}, true
}

// Lift implements Store.
func (s *RedisStore) Lift(ctx context.Context, kind Kind, value string, now time.Time) (bool, error) {
	if err := checkValue(kind, value); err != nil {
		return false, err
	}
	v, err := s.run(ctx, liftScript, []string{s.key(kind, value)}).Text()
	if err != nil {
		return false, unavailable(err)
	}
	if c, ok := s.c.(redis.Cmdable); ok {
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		_ = c.ZRem(ctx, s.index(), string(kind)+":"+value).Err()
	}
	u, _ := strconv.ParseInt(v, 10, 64)
	return u > now.UnixMicro(), nil
}

var _ Snapshotter = (*RedisStore)(nil)

// Snapshot implements Snapshotter: one pipeline reads the index's latest
// limit members ending after now and how many there are, a second each
// member's key (a lifted block is gone from there). Two round trips,
// whatever the number of requests: a Blocker does it once a Refresh.
func (s *RedisStore) Snapshot(ctx context.Context, now time.Time, limit int) ([]Block, int, error) {
	c, ok := s.c.(redis.Cmdable)
	if !ok {
		return nil, 0, errors.New("block: Snapshot needs a redis.Cmdable client")
	}
	ctx, cancel := context.WithTimeout(ctx, 4*s.timeout)
	defer cancel()
	after := "(" + strconv.FormatInt(now.UnixMicro(), 10)
	var members *redis.StringSliceCmd
	var count *redis.IntCmd
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		members = p.ZRevRangeByScore(ctx, s.index(), &redis.ZRangeBy{Min: after, Max: "+inf", Count: int64(limit)})
		count = p.ZCount(ctx, s.index(), after, "+inf")
		return nil
	}); err != nil {
		return nil, 0, unavailable(err)
	}
	ms := members.Val()
	cmds := make([]*redis.SliceCmd, len(ms))
	if len(ms) > 0 {
		if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, m := range ms {
				cmds[i] = p.HMGet(ctx, s.prefix+m, "u", "o")
			}
			return nil
		}); err != nil && !errors.Is(err, redis.Nil) {
			return nil, 0, unavailable(err)
		}
	}
	out := make([]Block, 0, len(ms))
	for i, m := range ms {
		if b, ok := s.parseMember(m, cmds[i].Val(), now); ok {
			out = append(out, b)
		}
	}
	return out, int(count.Val()), nil
}
