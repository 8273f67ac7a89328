package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/bff"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/console"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store/redisstore"
)

// devConsoleSecretFile is the console client's secret in dev mode, under
// data_dir.
const devConsoleSecretFile = "console-secret"

// mountConsole declares the console's client and mounts the admin
// console (console section, docs/CONSOLE.md) in the authorization
// server, when enabled.
func mountConsole(ctx context.Context, cfg *config.Config, as *authzServer, replay dpop.ReplayStore, rs *sharedRedis,
	events *secevent.Emitter, logger *slog.Logger, reg *prometheus.Registry) error {
	if !cfg.Console.Enabled {
		return nil
	}
	srv, st := as.Server, as.served
	secret, err := consoleSecret(cfg)
	if err != nil {
		return err
	}
	if err := console.DeclareClient(ctx, st, cfg.Console, cfg.Issuer, secret, now()); err != nil {
		return err
	}
	host, _ := os.Hostname()
	opts := console.Options{
		Issuer: cfg.Issuer, Handler: srv.Handler(), Store: st, Keys: as.km, Accounts: srv, ClientSecret: secret,
		Events: events, Replay: replay, Logger: logger, Instance: host,
	}
	if err := consoleSessions(cfg, rs, &opts); err != nil {
		return err
	}
	if reg != nil {
		opts.Registry = reg
	}
	c, err := console.New(cfg.Console, opts)
	if err != nil {
		return err
	}
	srv.Mount(c.Pattern(), c)
	return nil
}

// consoleSecret reads console.client_secret_file; in dev mode without
// one, it makes data_dir/console-secret.
func consoleSecret(cfg *config.Config) (string, error) {
	f := cfg.Console.ClientSecretFile
	if f == "" && cfg.Dev {
		f = filepath.Join(cfg.DataDir, devConsoleSecretFile)
		if _, err := ensureSecretFile(f); err != nil {
			return "", fmt.Errorf("dev mode: console secret: %w", err)
		}
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return "", fmt.Errorf("console.client_secret_file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < 32 {
		return "", fmt.Errorf("console.client_secret_file: %s holds fewer than 32 characters (make one with: head -c 32 /dev/urandom | base64)", f)
	}
	return s, nil
}

// consoleSessions puts the console's sessions in Redis when
// console.session_store is redis, sealed with console.session_key_file.
func consoleSessions(cfg *config.Config, rs *sharedRedis, opts *console.Options) error {
	c := cfg.Console
	if c.SessionStore != "redis" {
		return nil
	}
	if rs == nil {
		return fmt.Errorf("console.session_store: redis needs the redis section")
	}
	k, err := os.ReadFile(c.SessionKeyFile)
	if err == nil {
		opts.SessionKey, err = decodeKey32(strings.TrimSpace(string(k)))
	}
	if err != nil {
		return fmt.Errorf("console.session_key_file: %w (make one with: head -c 32 /dev/urandom | base64)", err)
	}
	prefix := cfg.Redis.KeyPrefix
	if prefix == "" {
		prefix = redisstore.DefaultPrefix
	}
	opts.Sessions = bff.NewRedisStore(rs.client, prefix+"bff:console:").WithTimeout(rs.budget)
	return nil
}
