package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/store"
)

// storeCalls are one store call of each shape the deadline must cover: a
// single-row read (QueryRow), a multi-row read (Query), a write (Exec) and
// a transaction.
func storeCalls(s *Store) map[string]func(ctx context.Context) error {
	now := time.Now()
	hash := func(i int) []byte { h := sha256.Sum256(fmt.Append(nil, i)); return h[:] }
	var n int
	var mu sync.Mutex
	next := func() int { mu.Lock(); defer mu.Unlock(); n++; return n }
	return map[string]func(ctx context.Context) error{
		"GetClient": func(ctx context.Context) error { _, err := s.GetClient(ctx, "c"); return err },
		"ListClients": func(ctx context.Context) error {
			_, err := s.ListClients(ctx)
			return err
		},
		"PutCode": func(ctx context.Context) error {
			return s.PutCode(ctx, &store.AuthCode{Hash: hash(next()), ClientID: "c", Subject: "u",
				RedirectURI: "https://c.example/cb", CreatedAt: now, ExpiresAt: now.Add(time.Minute)})
		},
		"CreateFamily": func(ctx context.Context) error {
			return s.CreateFamily(ctx, &store.Family{ID: fmt.Sprint("f", next()), ClientID: "c", Subject: "u",
				CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, nil)
		},
	}
}

// errStillRunning is within's answer for a call that did not return.
var errStillRunning = errors.New("still running")

// within runs call and returns its error, or marks the test failed and
// returns errStillRunning when it has not returned after limit (the call
// is left running; the proxy's cleanup ends it).
func within(t *testing.T, limit time.Duration, name string, call func(context.Context) error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- call(context.Background()) }()
	select {
	case err := <-errc:
		return err
	case <-time.After(limit):
		t.Errorf("%s has not returned after %v", name, limit)
		return errStillRunning
	}
}

// TestPostgresPartitionIsBounded: PostgreSQL reached through a proxy that
// goes silent (a network partition: nothing forwarded, nothing closed).
// Every store call, including those queued for one of the pool's
// connections, returns within the store's timeout with an error wrapping
// context.DeadlineExceeded, instead of waiting forever. When the network
// is back, calls succeed again at once: the connections the partition
// held were discarded, not reused (the proxy keeps them silent for good,
// so a reused one would time out again), and their slots in the pool were
// freed without waiting for pgx's cancel requests, which the partition
// holds too.
func TestPostgresPartitionIsBounded(t *testing.T) {
	u := wardtest.PostgresSchema(t, "ward_deadline_")
	proxy := wardtest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	const conns = 4
	q := u.Query()
	q.Set("pool_max_conns", fmt.Sprint(conns))
	u.RawQuery = q.Encode()
	const timeout = 500 * time.Millisecond
	s, err := OpenPostgres(t.Context(), u.String(), Timeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.UpsertClient(t.Context(), &store.Client{ID: "c", AuthMethod: "none"}); err != nil {
		t.Fatal(err)
	}
	calls := storeCalls(s)
	// Open every connection of the pool, so the partition holds them all.
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			tx, err := s.w.BeginTx(t.Context(), nil)
			if err == nil {
				time.Sleep(100 * time.Millisecond)
				_ = tx.Rollback()
			}
		})
	}
	wg.Wait()

	proxy.Blackhole()
	// Three rounds of every call at once: more callers than connections,
	// so some wait for a connection and some hold one into the silence.
	limit := 10 * timeout // generous for a loaded machine; unbounded before
	for round := range 3 {
		var wg sync.WaitGroup
		for name, call := range calls {
			for i := range conns {
				wg.Go(func() {
					what := fmt.Sprintf("round %d: %s #%d", round, name, i)
					err := within(t, limit, what, call)
					if err != errStillRunning && !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("%s in a partition: %v; want an error wrapping context.DeadlineExceeded", what, err)
					}
				})
			}
		}
		wg.Wait()
	}

	proxy.Restore(t)
	// A connection attempt database/sql began in the partition may still
	// fail one caller just after it ends; from the first success on,
	// every call must succeed.
	settle := time.Now().Add(limit)
	for within(t, limit, "GetClient", calls["GetClient"]) != nil {
		if time.Now().After(settle) {
			t.Fatalf("no call succeeded within %v of the partition's end", limit)
		}
		time.Sleep(timeout / 10)
	}
	for round := range 2 * conns {
		for name, call := range calls {
			if err := within(t, limit, name, call); err != nil {
				t.Fatalf("%s after the partition (call %d): %v", name, round, err)
			}
		}
	}
}

// TestSQLiteDeadline: on SQLite the deadline bounds a write waiting for
// another process's write lock (busy_timeout is 5 s) and a call waiting
// for the one connection of an in-memory database, without breaking the
// database: once the lock or the connection is free, the same store
// writes and reads, and the in-memory data is still there.
func TestSQLiteDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	limit := 4 * time.Second // below busy_timeout (5 s), which bounded it before
	t.Run("file locked by another process", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ward.db")
		s, err := OpenSQLite(t.Context(), path, Timeout(timeout))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		calls := storeCalls(s)
		if err := s.UpsertClient(t.Context(), &store.Client{ID: "c", AuthMethod: "none"}); err != nil {
			t.Fatal(err)
		}
		other, err := sql.Open("sqlite", sqliteDSN(path, false))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		lock, err := other.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE: the write lock
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"PutCode", "CreateFamily"} {
			if err := within(t, limit, name, calls[name]); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s with the write lock held elsewhere: %v; want context.DeadlineExceeded", name, err)
			}
		}
		if err := within(t, limit, "GetClient", calls["GetClient"]); err != nil {
			t.Errorf("a read while another process writes (WAL): %v", err)
		}
		_ = lock.Rollback()
		for name, call := range calls {
			if err := within(t, limit, name, call); err != nil {
				t.Errorf("%s after the lock was released: %v", name, err)
			}
		}
	})
	t.Run("in-memory connection busy", func(t *testing.T) {
		s, err := OpenSQLite(t.Context(), ":memory:", Timeout(timeout))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		calls := storeCalls(s)
		if err := s.UpsertClient(t.Context(), &store.Client{ID: "c", AuthMethod: "none"}); err != nil {
			t.Fatal(err)
		}
		held, err := s.w.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for name, call := range calls {
			if err := within(t, limit, name, call); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s while the only connection is busy: %v; want context.DeadlineExceeded", name, err)
			}
		}
		held.Close()
		for name, call := range calls {
			if err := within(t, limit, name, call); err != nil {
				t.Errorf("%s after the connection was freed: %v (the in-memory database must survive)", name, err)
			}
		}
	})
}

// TestPoolFromDSN: pgxpool settings that database/sql's pool cannot honour
// are refused, not ignored; connect_timeout defaults to the store's
// timeout unless the DSN sets it.
func TestPoolFromDSN(t *testing.T) {
	for _, p := range unsupportedPoolParams {
		if _, err := parseDSN("postgres://u@127.0.0.1:1/db?"+p+"=1", options{timeout: time.Second}); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v; want it refused by name", p, err)
		}
	}
	t.Setenv("PGCONNECT_TIMEOUT", "")
	for dsn, want := range map[string]time.Duration{
		"postgres://u@127.0.0.1:1/db":                   3 * time.Second,
		"postgres://u@127.0.0.1:1/db?connect_timeout=9": 9 * time.Second,
		"host=127.0.0.1 port=1 connect_timeout=7":       7 * time.Second,
	} {
		cfg, err := parseDSN(dsn, options{timeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.ConnConfig.ConnectTimeout; got != want {
			t.Errorf("%s: connect timeout %v, want %v", dsn, got, want)
		}
	}
}

// TestUnreachable: what ward serve keeps waiting for at start (the
// database cannot be reached or is starting up) and what ends the wait
// (the database answered and refused).
func TestUnreachable(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for err, want := range map[error]bool{
		fmt.Errorf("x: %w", dial):                               true,
		fmt.Errorf("x: %w", context.DeadlineExceeded):           true,
		fmt.Errorf("x: %w", io.ErrUnexpectedEOF):                true,
		&pgconn.PgError{Code: "57P03"}:                          true, // the database system is starting up
		&pgconn.PgError{Code: "08006"}:                          true,
		&pgconn.PgError{Code: "53300"}:                          true,  // too many connections
		&pgconn.PgError{Code: "25006"}:                          true,  // a write sent to a standby
		fmt.Errorf("connect: %w", pgconn.ErrReadOnlyConnection): true,  // target_session_attrs found no primary
		&pgconn.PgError{Code: "28P01"}:                          false, // password authentication failed
		&pgconn.PgError{Code: "3D000"}:                          false, // database does not exist
		errors.New("sqlstore: migration 0002_x.sql: boom"):      false,
		nil: false,
	} {
		if got := Unreachable(err); got != want {
			t.Errorf("Unreachable(%v) = %v, want %v", err, got, want)
		}
	}
	if got := PostgresAddr("postgres://u:secret@db.example:6543/ward"); got != "db.example:6543" {
		t.Errorf("PostgresAddr = %q", got)
	}
}

// TestUnavailable: which errors sqlstore reports as store.ErrUnavailable
// (the cause kept), and that a missing row, a constraint or a refused
// login is not one.
func TestUnavailable(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for err, want := range map[error]bool{
		fmt.Errorf("x: %w", dial):                     true,
		fmt.Errorf("x: %w", context.DeadlineExceeded): true,
		io.ErrUnexpectedEOF:                           true,
		driver.ErrBadConn:                             true,
		&pgconn.PgError{Code: "08006"}:                true,
		&pgconn.PgError{Code: "57P01"}:                true,
		&pgconn.PgError{Code: "23505"}:                false, // unique violation
		&pgconn.PgError{Code: "28P01"}:                false,
		sql.ErrNoRows:                                 false,
		context.Canceled:                              false, // the caller went away
		errors.New("boom"):                            false,
	} {
		got := unavailable(err)
		if errors.Is(got, store.ErrUnavailable) != want || !errors.Is(got, err) {
			t.Errorf("unavailable(%v) = %v; want ErrUnavailable %v, the cause kept", err, got, want)
		}
	}
	if unavailable(nil) != nil {
		t.Error("unavailable(nil) is not nil")
	}
	once := unavailable(dial)
	if unavailable(once) != once {
		t.Error("wrapped twice")
	}
}

// TestSQLiteUnavailable: on SQLite a call that cannot run before the
// store's deadline (the one connection of an in-memory database held)
// reports store.ErrUnavailable, with context.DeadlineExceeded kept.
func TestSQLiteUnavailable(t *testing.T) {
	s, err := OpenSQLite(t.Context(), ":memory:", Timeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.UpsertClient(t.Context(), &store.Client{ID: "c", AuthMethod: "none"}); err != nil {
		t.Fatal(err)
	}
	held, err := s.w.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for name, call := range storeCalls(s) {
		if err := within(t, 4*time.Second, name, call); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while the only connection is busy: %v; want store.ErrUnavailable wrapping context.DeadlineExceeded", name, err)
		}
	}
}
