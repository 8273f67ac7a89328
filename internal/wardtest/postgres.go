package wardtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// DefaultPostgres is the WARD_TEST_POSTGRES of .ci/run.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresSchema creates a fresh schema (named prefix + random hex) on
// WARD_TEST_POSTGRES (default DefaultPostgres), dropped at the test's end,
// and returns the database URL with search_path set to it. It skips (or
// fails, see Unavailable) when PostgreSQL does not answer.
func PostgresSchema(t testing.TB, prefix string) *url.URL {
	t.Helper()
	base := os.Getenv("WARD_TEST_POSTGRES")
	if base == "" {
		base = DefaultPostgres
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("WARD_TEST_POSTGRES must be a postgres:// URL")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("WARD_TEST_POSTGRES: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		Unavailable(t, fmt.Sprintf("PostgreSQL unreachable (WARD_TEST_POSTGRES=%s): %v", u.Redacted(), err))
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := prefix + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u
}
