package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/store/redisstore"
)

// sharedRedis is a process's one Redis client and the stores on it: the
// DPoP and assertion replay store and the rate-limit store, shared by the
// authorization server and the gateway, and through Redis by every
// instance.
type sharedRedis struct {
	client redis.UniversalClient
	budget time.Duration // redisstore.Budget: the bound of each call
	replay *redisstore.Store
	limits *ratelimit.RedisStore
}

// Close closes the client.
func (s *sharedRedis) Close() error { return s.client.Close() }

// Ping checks that Redis answers.
func (s *sharedRedis) Ping(ctx context.Context) error { return s.replay.Ping(ctx) }

// openRedis returns the stores on the Redis configured in the redis
// section, or nil when the section is off. It does not wait for Redis:
// the caller pings it once at start.
func openRedis(r config.Redis, logger *slog.Logger) (*sharedRedis, error) {
	if !r.Enabled() {
		return nil, nil
	}
	var tc *tls.Config
	if r.TLS.Enabled {
		var err error
		if tc, err = redisTLS(r); err != nil {
			return nil, fmt.Errorf("redis.tls: %w", err)
		}
	}
	// The client settings of redisstore.New (redisstore.Options): short
	// timeouts, one dial and one quick retry per command (safe: every
	// write is idempotent under a retry), each call bounded by
	// redisstore.Budget, so a dead Redis fails a request quickly instead
	// of stalling it.
	rc := redisstore.Config{Addr: r.Addr, Username: r.Username, Password: r.Password, DB: int(r.DB), TLS: tc,
		DialTimeout: r.DialTimeout, ReadTimeout: r.ReadTimeout, WriteTimeout: r.WriteTimeout}
	// One server, a Sentinel-watched master or a Cluster: the same
	// bounds for each (redisstore.NewClient).
	c := redisstore.NewClient(rc, redisstore.Deployment{
		SentinelMaster: r.Sentinel.MasterName, SentinelAddrs: r.Sentinel.Addresses,
		SentinelUsername: r.Sentinel.Username, SentinelPassword: r.Sentinel.Password,
		ClusterAddrs: r.Cluster.Addresses,
	})
	prefix := r.KeyPrefix
	if prefix == "" {
		prefix = redisstore.DefaultPrefix
	}
	return &sharedRedis{
		client: c,
		budget: redisstore.Budget(rc),
		replay: redisstore.NewFromClient(c, redisstore.Config{Prefix: prefix, FailOpen: r.FailOpen, Logger: logger,
			MinReplicas: int(r.ReplayMinReplicas), WaitTimeout: r.ReplayWaitTimeout,
			DialTimeout: r.DialTimeout, ReadTimeout: r.ReadTimeout, WriteTimeout: r.WriteTimeout}),
		// Rate-limit keys live under <prefix>rl:, apart from the replay
		// keys, and fail the same way (closed: 503) unless fail_open.
		limits: ratelimit.NewRedisStore(c, ratelimit.RedisConfig{Prefix: prefix + "rl:", FailOpen: r.FailOpen, Timeout: redisstore.Budget(rc)}),
	}, nil
}

// redisTLS builds the client TLS configuration for Redis: TLS 1.2 or
// later, the system roots or redis.tls.ca_file, and an optional client
// certificate.
func redisTLS(r config.Redis) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: r.TLS.ServerName}
	// With Sentinel or Cluster and no server_name, each connection
	// verifies the name of the node it dials (redisstore.NewClient).
	if tc.ServerName == "" && r.Addr != "" {
		host, _, err := net.SplitHostPort(r.Addr)
		if err != nil {
			return nil, err
		}
		tc.ServerName = host
	}
	if r.TLS.CAFile != "" {
		pem, err := os.ReadFile(r.TLS.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate", r.TLS.CAFile)
		}
	}
	if r.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(r.TLS.CertFile, r.TLS.KeyFile)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// redisStartTimeout bounds the ping at start.
const redisStartTimeout = 2 * time.Second

// checkRedis pings Redis once at start and logs the outcome. An
// unreachable Redis does not stop the start: requests that need a replay
// check are refused with 503 (fail closed) or accepted unchecked
// (fail_open) until it answers, and /metrics shows it.
func checkRedis(ctx context.Context, rs *sharedRedis, r config.Redis, logger *slog.Logger) {
	mode := "fail closed: requests needing a replay check get 503 while Redis is unreachable"
	if r.FailOpen {
		mode = "FAIL OPEN: proofs are accepted without a replay check while Redis is unreachable"
	}
	ctx, cancel := context.WithTimeout(ctx, redisStartTimeout)
	defer cancel()
	if err := rs.Ping(ctx); err != nil {
		logger.Error("redis unreachable at start; DPoP replay checks cannot be made until it answers", "addr", r.Addr, "err", err, "mode", mode)
		return
	}
	logger.Info("redis: DPoP replay checks and rate limits shared by every instance", "addr", r.Addr, "db", int(r.DB), "tls", r.TLS.Enabled, "mode", mode)
}

// registerRedisMetrics exports the Redis replay store's health on the
// gateway's admin listener (/metrics).
func registerRedisMetrics(reg *prometheus.Registry, rs *redisstore.Store) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "ward", Subsystem: "redis", Name: "errors_total",
			Help: "Replay checks (DPoP proofs) that could not reach Redis.",
		}, func() float64 { return float64(rs.Stats().Errors) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "ward", Subsystem: "redis", Name: "accepted_unchecked_total",
			Help: "Proofs accepted without a replay check because Redis was unreachable (redis.fail_open only).",
		}, func() float64 { return float64(rs.Stats().AcceptedUnchecked) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "ward", Subsystem: "redis", Name: "up",
			Help: "1 when Redis answered a PING at the last scrape, else 0.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if rs.Ping(ctx) != nil {
				return 0
			}
			return 1
		}),
	)
}
