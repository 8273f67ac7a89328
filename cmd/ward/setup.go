package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/redisstore"
	"github.com/wardauth/ward/store/sqlstore"
)

// configFlags are the flags every command that touches the store shares.
type configFlags struct {
	path string
	dev  bool
	data string
}

func (c *configFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.path, "config", "", "configuration file (YAML, see docs/CONFIG.md)")
	fs.BoolVar(&c.dev, "dev", false, "development mode: loopback only, http issuer, everything generated under --data")
	fs.StringVar(&c.data, "data", "./ward-data", "data folder for --dev")
}

// load returns the validated configuration, with the environment applied.
func (c *configFlags) load() (*config.Config, error) {
	var cfg *config.Config
	switch {
	case c.path != "" && c.dev:
		return nil, fmt.Errorf("give either --config or --dev, not both")
	case c.path != "":
		var err error
		if cfg, err = config.Load(c.path); err != nil {
			return nil, err
		}
	case c.dev:
		cfg = config.Dev(c.data)
		if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
			return nil, err
		}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("give --config FILE, or --dev to run with generated development settings")
	}
	return cfg, nil
}

// newFlagSet makes a flag set that prints its usage to w and reports
// errors as values, not exits.
func newFlagSet(name, usage string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ward "+name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: ward %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args with flags before, between or after positional
// arguments (`ward client show ID --dev`), mapping a bad flag to errUsage.
// The positional arguments are then fs.Args().
func parseFlags(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

// openStore opens the configured store. In dev mode the data folder is
// created (0700).
func openStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (store.Store, error) {
	switch cfg.Store.Driver {
	case "", "sqlite":
		if cfg.DataDir != "" {
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return nil, err
			}
		}
		st, err := sqlstore.OpenSQLite(ctx, cfg.StoreDSN(), sqlstore.Timeout(cfg.Store.Timeout))
		if err != nil {
			return nil, err
		}
		// The database holds hashes and encrypted keys: owner only.
		_ = os.Chmod(cfg.StoreDSN(), 0o600)
		return st, nil
	case "postgres":
		// Pending migrations are applied under an advisory lock, so
		// instances starting together apply each one once.
		return openPostgres(ctx, cfg, logger)
	default:
		return nil, fmt.Errorf("store driver %q is not available in this build", cfg.Store.Driver)
	}
}

// sharedRedis is a process's one Redis client and the stores on it: the
// DPoP and assertion replay store and the rate-limit store, shared by the
// authorization server and the gateway, and through Redis by every
// instance.
type sharedRedis struct {
	client *redis.Client
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
	c := redis.NewClient(redisstore.Options(rc))
	prefix := r.KeyPrefix
	if prefix == "" {
		prefix = redisstore.DefaultPrefix
	}
	return &sharedRedis{
		client: c,
		budget: redisstore.Budget(rc),
		replay: redisstore.NewFromClient(c, redisstore.Config{Prefix: prefix, FailOpen: r.FailOpen, Logger: logger,
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
	if tc.ServerName == "" {
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

// openKeys returns the signing-key manager, with the KEK from the
// environment or the configured file (created in dev mode).
func openKeys(cfg *config.Config, st store.SigningKeys) (*keys.Manager, error) {
	var kek keys.KEK
	var err error
	if cfg.Dev && cfg.Keys.KEK == "" {
		kek, err = keys.EnsureKEKFile(cfg.Keys.KEKFile)
	} else {
		kek, err = keys.LoadKEK(cfg.Keys.KEK, cfg.Keys.KEKFile)
	}
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	alg := keys.ES256
	if cfg.Keys.Algorithm == "EdDSA" {
		alg = keys.EdDSA
	}
	return keys.New(st, []keys.KEK{kek}, keys.Options{
		Algorithm:      alg,
		PublishAhead:   cfg.Keys.PublishAhead,
		RotationPeriod: cfg.Keys.RotationPeriod,
		// A retired key stays published until every token it signed has
		// expired. Clients made with `ward client create` may set any
		// lifetime up to the maximum, so the maximum bounds them all.
		MaxTokenLifetime: config.MaxAccessTokenTTL,
	})
}

func now() time.Time { return time.Now() }
