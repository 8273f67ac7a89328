package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/redisbatch"
	"github.com/wardauth/ward/store"
)

var (
	_ dpop.ReplayStore = (*Store)(nil)
	_ store.OneTime    = (*Store)(nil)
)

// ErrUnavailable is wrapped by every error that comes from failing to
// reach Redis (connection refused, timeout, server error). The DPoP
// verifier refuses such a proof with reason replay_store_error, which the
// HTTP layers answer with 503. It wraps store.ErrUnavailable, so
// errors.Is(err, store.ErrUnavailable) holds for every outage whichever
// store reported it.
var ErrUnavailable = fmt.Errorf("redisstore: Redis unavailable: %w", store.ErrUnavailable)

// DefaultTimeout is the default dial, read and write timeout: short, so
// that a dead or overloaded Redis fails a request quickly instead of
// stalling the gateway.
const DefaultTimeout = 100 * time.Millisecond

// DefaultPrefix is put in front of every key.
const DefaultPrefix = "ward:"

// DefaultWaitTimeout bounds the wait for replicas (Config.MinReplicas).
const DefaultWaitTimeout = 50 * time.Millisecond

// minTTL is the shortest time a value is kept. An expiry already past (or
// about to pass) would otherwise record nothing; keeping the value a
// little longer than asked is always safe.
const minTTL = time.Second

// Config configures a Store. The zero value (with Addr set) fails closed
// with 100 ms timeouts.
type Config struct {
	// Addr is the Redis server's host:port (used by New).
	Addr     string
	Username string
	Password string
	DB       int
	// TLS, when set, is used for the connection.
	TLS *tls.Config
	// DialTimeout, ReadTimeout and WriteTimeout default to DefaultTimeout.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// PoolSize is the number of connections (go-redis default when zero:
	// 10 per CPU).
	PoolSize int

	// Prefix is put in front of every key (DefaultPrefix when empty), so
	// that several deployments can share one Redis.
	Prefix string

	// FailOpen selects the degraded mode: when Redis cannot be reached,
	// Use and UseOnce log the failure and report success instead of an
	// error. A proof or assertion replayed while Redis is down is then
	// accepted: replay protection (RFC 9449 §11.1, RFC 7523 §3) is off for
	// that time. Leave it false (fail closed: refuse with 503) unless
	// availability matters more than replay protection.
	FailOpen bool

	// MinReplicas, when positive, makes each Use and UseOnce wait (WAIT)
	// until that many replicas acknowledge the write, and fail (closed,
	// unless FailOpen) when fewer do within WaitTimeout. Without it a
	// write acknowledged by a master that dies before replicating is
	// lost in the failover, so the value could be used once more on the
	// new master (docs/SCALEOUT.md has the measured trade-off).
	MinReplicas int
	// WaitTimeout bounds that wait (50 ms when zero).
	WaitTimeout time.Duration

	// Logger receives a record when Redis is unreachable, at most one a
	// second (slog.Default when nil).
	Logger *slog.Logger
}

// Store records DPoP proofs (jkt, jti) and other single-use values in
// Redis, shared by every instance that uses the same Redis. It is safe for
// concurrent use.
type Store struct {
	c        redis.UniversalClient
	batch    *redisbatch.Batcher
	own      bool // c was created by New, so Close closes it
	prefix   string
	failOpen bool
	log      *slog.Logger
	budget   time.Duration
	replicas int
	wait     time.Duration

	// id and seq make each write's value unique to the attempt (see
	// claim), across instances and calls.
	id  string
	seq atomic.Uint64

	errs     atomic.Uint64
	accepted atomic.Uint64
	lastLog  atomic.Int64
}

// New connects to the Redis at cfg.Addr. It does not wait for the
// server: the first command connects. Call Ping to check it at start.
func New(cfg Config) (*Store, error) {
	if cfg.Addr == "" {
		return nil, errors.New("redisstore: empty Addr")
	}
	c := redis.NewClient(Options(cfg))
	s := NewFromClient(c, cfg)
	s.own = true
	return s, nil
}

// NewFromClient uses a client the caller built: a *redis.ClusterClient
// for Redis Cluster, a failover client for Sentinel, or a *redis.Client
// with settings New does not expose. cfg's connection fields (Addr,
// timeouts, ...) are ignored except to compute Budget; Prefix, FailOpen and
// Logger apply. Close does not close c.
func NewFromClient(c redis.UniversalClient, cfg Config) *Store {
	var id [12]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read does not fail (Go 1.24)
	s := &Store{c: c, batch: redisbatch.New(c), prefix: cfg.Prefix, failOpen: cfg.FailOpen, log: cfg.Logger,
		budget: Budget(cfg), replicas: cfg.MinReplicas, wait: cfg.WaitTimeout, id: base64.RawURLEncoding.EncodeToString(id[:]) + ":"}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.wait <= 0 {
		s.wait = DefaultWaitTimeout
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Options returns the go-redis client options New uses for cfg; package
// server builds its shared client from them too, so every Redis user in
// Ward has the same bounds:
//
//   - dial, read and write timeouts of DefaultTimeout (100 ms) each;
//   - a refused dial is not dialled again within the attempt;
//   - waiting for a free connection is bounded by the read timeout;
//   - one quick retry (5–20 ms later) of a failed command, which is safe
//     because every write Ward makes is idempotent under a retry (Use,
//     UseOnce, the rate-limit script, the BFF's lock and take);
//   - the caller's context deadline shortens any socket wait
//     (ContextTimeoutEnabled), so Budget bounds a whole call, retries
//     included.
func Options(cfg Config) *redis.Options {
	return &redis.Options{
		Addr:         cfg.Addr,
		Username:     cfg.Username,
		Password:     cfg.Password,
		DB:           cfg.DB,
		TLSConfig:    cfg.TLS,
		DialTimeout:  orDefault(cfg.DialTimeout),
		ReadTimeout:  orDefault(cfg.ReadTimeout),
		WriteTimeout: orDefault(cfg.WriteTimeout),
		PoolSize:     cfg.PoolSize,
		// Dial once per attempt: go-redis would otherwise retry a refused
		// dial five times, 100 ms apart.
		DialerRetries:      1,
		DialerRetryTimeout: 10 * time.Millisecond,
		PoolTimeout:        orDefault(cfg.ReadTimeout),
		MaxRetries:         1,
		MinRetryBackoff:    5 * time.Millisecond,
		MaxRetryBackoff:    20 * time.Millisecond,
		// Honour the deadline of Budget (and any shorter one of the
		// caller) on the socket too, not only while waiting for the pool.
		ContextTimeoutEnabled: true,
	}
}

// Budget is how long one call on a Redis client built from cfg may take
// in all, waiting for a connection and retries included: one dial and one
// read timeout (200 ms by default). Store bounds each call by it, so a
// dead or silent Redis fails a request within it however many requests
// queue for a connection at once.
func Budget(cfg Config) time.Duration {
	return orDefault(cfg.DialTimeout) + orDefault(cfg.ReadTimeout)
}

func orDefault(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTimeout
	}
	return d
}

// Ping checks that Redis answers; errors wrap ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Close closes the client if New created it.
func (s *Store) Close() error {
	if s.own {
		return s.c.Close()
	}
	return nil
}

// Use implements [dpop.ReplayStore]: it records key with a value unique
// to this call until exp (SET NX PXAT, see claim), where key is the prefix
// and a SHA-256 of (jkt, jti), so its length is bounded whatever the client
// sends. It returns [dpop.ErrSeen] when the pair is
// recorded already, and an error wrapping ErrUnavailable when Redis cannot
// be reached (nil instead in FailOpen mode).
//
// The expiry is absolute (PXAT), read by Redis's clock: keep the
// instances' and Redis's clocks synchronised (NTP). A value is kept for at
// least a second.
func (s *Store) Use(ctx context.Context, jkt, jti string, exp time.Time) error {
	key := s.key("dpop:", jkt+"\x00"+jti)
	if min := time.Now().Add(minTTL); exp.Before(min) {
		exp = min
	}
	ok, err := s.claim(ctx, key, "PXAT", exp.UnixMilli())
	switch {
	case err != nil:
		return s.unavailable("dpop replay check", err)
	case !ok:
		return dpop.ErrSeen
	}
	return nil
}

// UseOnce implements [store.OneTime] for values such as private_key_jwt
// assertion jtis (RFC 7523 §3): it records key until exp and returns
// [store.ErrAlreadyUsed] if key is recorded and live. The lifetime is
// exp − now, measured by the caller's clock (PX), at least a second. Redis
// errors wrap ErrUnavailable (nil in FailOpen mode).
func (s *Store) UseOnce(ctx context.Context, key string, exp, now time.Time) error {
	ttl := max(exp.Sub(now), minTTL)
	ok, err := s.claim(ctx, s.key("once:", key), "PX", ttl.Milliseconds())
	switch {
	case err != nil:
		return s.unavailable("use once", err)
	case !ok:
		return fmt.Errorf("redisstore: use once: %w", store.ErrAlreadyUsed)
	}
	return nil
}

// claimScript sets KEYS[1] to ARGV[1] unless it exists (SET NX with the
// expiry ARGV[2] ARGV[3]), and reports whether the key now holds ARGV[1]:
// 1 when this call set it, now or in an earlier attempt, 0 when someone
// else did.
var claimScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', ARGV[2], ARGV[3]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
`)

// claim records key with a value unique to this call and reports whether
// the key is this call's. An attempt whose answer was lost (a read timeout
// while Redis paused) has run on Redis all the same; when go-redis sends
// the command again, the key exists, but holds this call's value: the
// write was ours, so the value is fresh, not a replay. Concurrent claims
// go to Redis together in one pipeline (package redisbatch). The whole
// call, waiting for the pipeline and retries included, is bounded by the
// budget.
func (s *Store) claim(ctx context.Context, key, unit string, at int64) (bool, error) {
	tok := s.id + strconv.FormatUint(s.seq.Add(1), 36)
	if s.replicas > 0 {
		return s.claimWait(ctx, key, tok, unit, at)
	}
	n, err := s.batch.Run(ctx, s.budget, claimScript, []string{key}, tok, unit, at).Int()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// key is prefix + kind + base64url(SHA-256(v)): 43 characters whatever v's
// length, and no way for a crafted jti to collide with another kind.
func (s *Store) key(kind, v string) string {
	h := sha256.Sum256([]byte(v))
	return s.prefix + kind + base64.RawURLEncoding.EncodeToString(h[:])
}

// unavailable counts and logs a failure to reach Redis and returns the
// error to report: a wrapped ErrUnavailable, or nil in FailOpen mode.
func (s *Store) unavailable(op string, err error) error {
	s.errs.Add(1)
	if s.failOpen {
		s.accepted.Add(1)
	}
	now := time.Now().UnixNano()
	if last := s.lastLog.Load(); now-last >= int64(time.Second) && s.lastLog.CompareAndSwap(last, now) {
		if s.failOpen {
			s.log.Warn("redisstore: Redis unreachable; FailOpen: accepting without replay check",
				"op", op, "err", err, "errors", s.errs.Load(), "accepted_unchecked", s.accepted.Load())
		} else {
			s.log.Error("redisstore: Redis unreachable; refusing (fail closed)",
				"op", op, "err", err, "errors", s.errs.Load())
		}
	}
	if s.failOpen {
		return nil
	}
	return fmt.Errorf("redisstore: %s: %w: %w", op, ErrUnavailable, err)
}

// Stats counts failures since the Store was created, for metrics.
type Stats struct {
	// Errors is how many calls could not reach Redis.
	Errors uint64
	// AcceptedUnchecked is how many of those were accepted anyway
	// (FailOpen mode).
	AcceptedUnchecked uint64
}

// Stats returns the failure counters.
func (s *Store) Stats() Stats {
	return Stats{Errors: s.errs.Load(), AcceptedUnchecked: s.accepted.Load()}
}
