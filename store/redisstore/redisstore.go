package redisstore

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/store"
)

var (
	_ dpop.ReplayStore = (*Store)(nil)
	_ store.OneTime    = (*Store)(nil)
)

// ErrUnavailable is wrapped by every error that comes from failing to
// reach Redis (connection refused, timeout, server error). The DPoP
// verifier refuses such a proof with reason replay_store_error, which the
// HTTP layers answer with 503.
var ErrUnavailable = errors.New("redisstore: Redis unavailable")

// DefaultTimeout is the default dial, read and write timeout: short, so
// that a dead or overloaded Redis fails a request quickly instead of
// stalling the gateway.
const DefaultTimeout = 100 * time.Millisecond

// DefaultPrefix is put in front of every key.
const DefaultPrefix = "ward:"

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

	// Logger receives a record when Redis is unreachable, at most one a
	// second (slog.Default when nil).
	Logger *slog.Logger
}

// Store records DPoP proofs (jkt, jti) and other single-use values in
// Redis, shared by every instance that uses the same Redis. It is safe for
// concurrent use.
type Store struct {
	c        redis.UniversalClient
	own      bool // c was created by New, so Close closes it
	prefix   string
	failOpen bool
	log      *slog.Logger

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
	c := redis.NewClient(&redis.Options{
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
		// Waiting for a busy pool is bounded too.
		PoolTimeout: 2 * orDefault(cfg.ReadTimeout),
		// One quick retry covers a connection the server closed while
		// idle; more would stretch the time a dead Redis holds a request.
		MaxRetries:      1,
		MinRetryBackoff: 5 * time.Millisecond,
		MaxRetryBackoff: 20 * time.Millisecond,
		// Use the timeouts above even when the caller's context has a
		// longer deadline.
		ContextTimeoutEnabled: false,
	})
	s := NewFromClient(c, cfg)
	s.own = true
	return s, nil
}

// NewFromClient uses a client the caller built: a *redis.ClusterClient
// for Redis Cluster, a failover client for Sentinel, or a *redis.Client
// with settings New does not expose. cfg's connection fields (Addr,
// timeouts, ...) are ignored; Prefix, FailOpen and Logger apply. Close does
// not close c.
func NewFromClient(c redis.UniversalClient, cfg Config) *Store {
	s := &Store{c: c, prefix: cfg.Prefix, failOpen: cfg.FailOpen, log: cfg.Logger}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
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

// Use implements [dpop.ReplayStore]: SET key 1 NX PXAT exp, where key is
// the prefix and a SHA-256 of (jkt, jti), so its length is bounded
// whatever the client sends. It returns [dpop.ErrSeen] when the pair is
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
	ok, err := s.setNX(ctx, key, redis.SetArgs{Mode: "NX", ExpireAt: exp})
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
	ok, err := s.setNX(ctx, s.key("once:", key), redis.SetArgs{Mode: "NX", TTL: ttl})
	switch {
	case err != nil:
		return s.unavailable("use once", err)
	case !ok:
		return fmt.Errorf("redisstore: use once: %w", store.ErrAlreadyUsed)
	}
	return nil
}

// setNX runs SET key 1 NX with the expiry in a, and reports whether the
// key was set.
func (s *Store) setNX(ctx context.Context, key string, a redis.SetArgs) (bool, error) {
	err := s.c.SetArgs(ctx, key, "1", a).Err()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, redis.Nil): // NX: the key exists
		return false, nil
	}
	return false, err
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
