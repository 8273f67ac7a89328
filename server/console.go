package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/console"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/promring"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// devConsoleSecretFile is the console client's secret in dev mode, under
// data_dir.
const devConsoleSecretFile = "console-secret"

// mountConsole declares the console's client and mounts the admin
// console (console section, docs/CONSOLE.md) in the authorization
// server, when enabled.
func mountConsole(ctx context.Context, cfg *config.Config, srv *authz.Server, st store.Store, km *keys.Manager,
	replay dpop.ReplayStore, events *secevent.Emitter, logger *slog.Logger, reg *prometheus.Registry, traffic *promring.Ring, blocks *block.Blocker) error {
	if !cfg.Console.Enabled {
		return nil
	}
	secret, err := consoleSecret(cfg)
	if err != nil {
		return err
	}
	if err := console.DeclareClient(ctx, st, cfg.Console, cfg.Issuer, secret, now()); err != nil {
		return err
	}
	host, _ := os.Hostname()
	opts := console.Options{
		Issuer: cfg.Issuer, Handler: srv.Handler(), Store: st, Keys: km, Accounts: srv, ClientSecret: secret,
		Events: events, Replay: replay, Logger: logger, Instance: host, Traffic: traffic,
	}
	if reg != nil {
		opts.Registry = reg
	}
	if blocks != nil { // a nil *Blocker would be a non-nil block.Admin
		opts.Blocks = blocks
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
