package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/wardtest"
)

// TestOpenPostgresWait: the start-up wait retries a database that cannot
// be reached until store.startup_timeout, then names the address and the
// key; a database that answers and refuses (here: no such database) ends
// it at once.
func TestOpenPostgresWait(t *testing.T) {
	cfg := config.Default()
	cfg.Store.Driver = "postgres"
	cfg.Store.Timeout = time.Second
	cfg.Store.StartupTimeout = 2 * time.Second
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))

	cfg.Store.DSN = "postgres://ward:" + pgTestPassword + "@127.0.0.1:1/ward?sslmode=disable"
	start := time.Now()
	_, err := openPostgres(t.Context(), cfg, logger)
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL at 127.0.0.1:1 could not be reached within store.startup_timeout (2s)") {
		t.Errorf("refused port: %v", err)
	}
	if took := time.Since(start); took < 2*time.Second || took > 20*time.Second {
		t.Errorf("refused port: gave up after %v, want store.startup_timeout (2s)", took)
	}
	if !strings.Contains(log.String(), "waiting for PostgreSQL at 127.0.0.1:1") || strings.Contains(log.String(), pgTestPassword) {
		t.Errorf("log:\n%s", log.String())
	}

	u := wardtest.PostgresSchema(t, "ward_wait_")
	u.Path = "/ward_no_such_database"
	cfg.Store.DSN = u.String()
	cfg.Store.StartupTimeout = 30 * time.Second
	start = time.Now()
	if _, err := openPostgres(t.Context(), cfg, logger); err == nil || strings.Contains(err.Error(), "startup_timeout") {
		t.Errorf("unknown database: %v; want its own error at once", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("unknown database: waited %v", took)
	}
}

// pgTestPassword is the DSN's password, which no log line may show.
const pgTestPassword = "pw-that-must-never-be-logged"
