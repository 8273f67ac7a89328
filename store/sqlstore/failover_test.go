package sqlstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/store"
)

// TestReadOnlyConnectionDropped: a pooled connection whose write is
// refused with SQLSTATE 25006 (read_only_sql_transaction), as a
// connection to a former primary now a standby would be, is closed and
// leaves the pool (dropReadOnly), and the error says store.ErrUnavailable
// (503, try again), so the next call dials afresh and finds the new
// primary instead of failing on the stale connection. The read-only
// server is simulated with default_transaction_read_only on the pool's
// connections.
func TestReadOnlyConnectionDropped(t *testing.T) {
	dsn := pgSchema(t)
	s := openPG(t, dsn) // the schema, migrated
	s.Close()
	sdb, err := poolFromDSN(dsn+"&default_transaction_read_only=on", options{timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	d := &db{DB: sdb, timeout: 2 * time.Second}
	pid := func() (n int) {
		t.Helper()
		if err := d.QueryRowContext(t.Context(), `SELECT pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := pid()
	_, err = d.ExecContext(t.Context(), `INSERT INTO schema_version (version, applied_at) VALUES (99999, 0)`)
	if pgCode(err) != pgReadOnlyTransaction || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write on a read-only connection: %v; want 25006 as store.ErrUnavailable", err)
	}
	if after := pid(); after == before {
		t.Errorf("the next call ran on the connection (backend %d) that answered 25006: it stays pooled", before)
	}
	if n := sdb.Stats().OpenConnections; n != 1 {
		t.Errorf("%d open connections, want 1: the closed one is still counted", n)
	}
}

// TestServerTimeouts: every pooled connection carries statement_timeout
// and idle_in_transaction_session_timeout equal to the store's timeout,
// unless the DSN sets them, so that the server ends a stalled statement
// or an abandoned transaction (and releases its locks) when Ward gives
// up on it.
func TestServerTimeouts(t *testing.T) {
	dsn := pgSchema(t)
	s, err := OpenPostgres(t.Context(), dsn, Timeout(1500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for setting, want := range map[string]string{"statement_timeout": "1500ms", "idle_in_transaction_session_timeout": "1500ms"} {
		var got string
		if err := s.w.QueryRowContext(t.Context(), `SHOW `+setting).Scan(&got); err != nil || got != want {
			t.Errorf("SHOW %s = %q, %v; want %q", setting, got, err, want)
		}
	}
	// Off: the server's defaults (0, no timeout).
	s3, err := OpenPostgres(t.Context(), dsn, ServerTimeouts(false))
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	var got string
	if err := s3.w.QueryRowContext(t.Context(), `SHOW statement_timeout`).Scan(&got); err != nil || got != "0" {
		t.Errorf("ServerTimeouts(false): statement_timeout %q, %v; want the server's 0", got, err)
	}
	// A stalled statement is ended by the server too (57014,
	// query_canceled), not only abandoned by Ward.
	s2, err := OpenPostgres(t.Context(), dsn+"&statement_timeout=200", Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	start := time.Now()
	_, err = s2.w.ExecContext(t.Context(), `SELECT pg_sleep(3)`)
	if pgCode(err) != "57014" || time.Since(start) > 2*time.Second {
		t.Errorf("pg_sleep(3) under statement_timeout=200: %v after %v; want 57014 from the server", err, time.Since(start))
	}
}

// TestPostgresPairFailoverStore: a store opened on a primary/standby pair
// (wardtest.StartPostgresPair) with target_session_attrs=read-write keeps
// working after the primary dies and the standby is promoted, without
// being reopened: calls in between fail with store.ErrUnavailable, and a
// client written before the failover (acknowledged under synchronous
// replication) is there afterwards.
func TestPostgresPairFailoverStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL servers")
	}
	pair := wardtest.StartPostgresPair(t)
	s, err := OpenPostgres(t.Context(), pair.DSN()+"&connect_timeout=1", Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &store.Client{ID: "before-failover", RedirectURIs: []string{"https://app.example/cb"}}
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	// Only a standby answers (mid-failover, or a DSN naming the standby
	// first while the primary is down): Unreachable, so ward serve's
	// start-up wait keeps trying (server/storewait.go) rather than giving
	// up as on a refused login.
	standbyOnly := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write", pair.StandbyPort)
	if _, err := OpenPostgres(t.Context(), standbyOnly); !Unreachable(err) {
		t.Errorf("OpenPostgres with only a standby: %v; want an error Unreachable reports", err)
	}
	pair.KillPrimary()
	if _, err := s.GetClient(t.Context(), c.ID); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("with the primary dead and the standby not promoted: %v, want store.ErrUnavailable", err)
	}
	pair.Promote()
	var got *store.Client
	for deadline := time.Now().Add(10 * time.Second); ; {
		got, err = s.GetClient(t.Context(), c.ID)
		if err == nil || !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || got.ID != c.ID || len(got.RedirectURIs) != 1 || !strings.HasPrefix(got.RedirectURIs[0], "https://app.example") {
		t.Fatalf("the client written before the failover, after it: %+v, %v", got, err)
	}
	if err := s.CreateClient(t.Context(), &store.Client{ID: "after-failover", RedirectURIs: []string{"https://app.example/cb"}}); err != nil {
		t.Errorf("a write on the new primary: %v", err)
	}
}
