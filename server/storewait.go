package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// How openPostgres paces its attempts and its log lines.
const (
	postgresRetryPause = time.Second
	postgresLogEvery   = 3 * time.Second
)

// openPostgres opens the PostgreSQL store, trying again while the database
// cannot be reached or is starting up (sqlstore.Unreachable), for at most
// store.startup_timeout: a partitioned database would otherwise hold the
// start forever (each attempt is bounded by connect_timeout, which
// defaults to store.timeout). It logs what it waits for every few seconds,
// naming the address, never the DSN (which may hold a password). Any other
// error (a refused login, an unknown database, a failed migration) ends
// the wait at once.
func openPostgres(ctx context.Context, cfg *config.Config, logger *slog.Logger) (store.Store, error) {
	limit := cfg.Store.StartupTimeout
	if limit <= 0 {
		limit = config.Default().Store.StartupTimeout
	}
	addr := sqlstore.PostgresAddr(cfg.StoreDSN())
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	start := time.Now()
	var logged time.Time
	for attempt := 1; ; attempt++ {
		st, err := sqlstore.OpenPostgres(ctx, cfg.StoreDSN(), sqlstore.Timeout(cfg.Store.Timeout),
			sqlstore.ServerTimeouts(cfg.Store.ServerTimeouts))
		if err == nil {
			if attempt > 1 {
				logger.Info(fmt.Sprintf("PostgreSQL at %s answered after %s", addr, since(start)))
			}
			return st, nil
		}
		if !sqlstore.Unreachable(err) {
			return nil, err
		}
		if ctx.Err() == nil && time.Since(logged) >= postgresLogEvery {
			logged = time.Now()
			logger.Warn(fmt.Sprintf("waiting for PostgreSQL at %s (%s of store.startup_timeout %s, attempt %d)", addr, since(start), limit, attempt), "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(postgresRetryPause):
		}
		switch ctx.Err() {
		case nil:
		case context.Canceled: // stopped (SIGTERM) while waiting
			return nil, ctx.Err()
		default:
			return nil, fmt.Errorf("PostgreSQL at %s could not be reached within store.startup_timeout (%s): %w", addr, limit, err)
		}
	}
}

// since is the time from start, rounded for a log line.
func since(start time.Time) time.Duration { return time.Since(start).Round(100 * time.Millisecond) }
