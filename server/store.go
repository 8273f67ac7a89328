package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// OpenStore opens the configured store. In dev mode the data folder is
// created (0700).
func OpenStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (store.Store, error) {
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

// OpenKeys returns the signing-key manager, with the KEK from the
// environment or the configured file (created in dev mode).
func OpenKeys(cfg *config.Config, st store.SigningKeys) (*keys.Manager, error) {
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
