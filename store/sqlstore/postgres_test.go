package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/storetest"
)

// The PostgreSQL tests run against the server named by WARD_TEST_POSTGRES
// (default postgres://postgres@127.0.0.1:5432/test?sslmode=disable). When
// it is unreachable they skip, unless WARD_TEST_REQUIRE_SERVICES=1 (as in
// .ci/run), when they fail. Each test works in a schema of its own, created
// here and dropped at cleanup, so tests never see each other's rows.

// pgSchema creates a fresh schema (wardtest.PostgresSchema) and returns a
// DSN whose connections use it (search_path) with a pool large enough for
// every storetest racer to hold a connection of its own.
func pgSchema(t *testing.T) string {
	t.Helper()
	u := wardtest.PostgresSchema(t, "ward_test_")
	q := u.Query()
	q.Set("pool_max_conns", fmt.Sprint(storetest.Racers))
	u.RawQuery = q.Encode()
	return u.String()
}

func openPG(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := OpenPostgres(t.Context(), dsn)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	return s
}

// TestPostgresConformance runs the whole storage suite, its 50-goroutine
// races included, on PostgreSQL: one schema (and one pool of up to 50
// connections) per store the suite opens.
func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openPG(t, pgSchema(t)) })
}

// TestPostgresReopen: revocations caused by replays survive closing and
// reopening the store.
func TestPostgresReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T) func() store.Store {
		dsn := pgSchema(t)
		return func() store.Store { return openPG(t, dsn) }
	})
}

// TestPostgresConcurrentOpen starts several stores on one empty schema at
// once, as instances starting together would: the advisory lock makes them
// apply the migrations once, and none fails.
func TestPostgresConcurrentOpen(t *testing.T) {
	dsn := pgSchema(t)
	const n = 6
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = OpenPostgres(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var versions int
	if err := stores[0].r.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_version`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(postgresDialect.migrations)
	if err != nil {
		t.Fatal(err)
	}
	if versions != len(ms) {
		t.Fatalf("schema_version has %d rows, want %d", versions, len(ms))
	}
}

// TestPostgresManyStores runs the single-use races across several stores,
// each with its own pool, as several instances of the server would.
func TestPostgresManyStores(t *testing.T) {
	dsn := pgSchema(t)
	var stores []*Store
	for range 4 {
		s := openPG(t, dsn)
		defer s.Close()
		stores = append(stores, s)
	}
	ctx := t.Context()
	now := time.Now()
	h := func(s string) []byte { b := sha256.Sum256([]byte(s)); return b[:] }
	const racers = 40
	race := func(f func(i int, s *Store) error) (ok int) {
		errs := make([]error, racers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				errs[i] = f(i, stores[i%len(stores)])
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrAlreadyUsed):
				t.Fatalf("call %d: %v", i, err)
			}
		}
		return ok
	}

	t.Run("RotateRefreshToken", func(t *testing.T) {
		fam := &store.Family{ID: "f", ClientID: "c", Subject: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := stores[0].CreateFamily(ctx, fam, &store.RefreshToken{Hash: h("rt"), ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		ok := race(func(i int, s *Store) error {
			_, err := s.RotateRefreshToken(ctx, h("rt"), &store.RefreshToken{Hash: h(fmt.Sprint("next", i)), ExpiresAt: now.Add(time.Hour)}, now)
			return err
		})
		if ok != 1 {
			t.Fatalf("%d rotations succeeded, want 1", ok)
		}
		f, err := stores[3].GetFamily(ctx, "f")
		if err != nil || !f.Revoked() || f.RevokedReason != ReasonRefreshTokenReuse {
			t.Fatalf("family after race: %+v, %v", f, err)
		}
	})
	t.Run("RedeemCode", func(t *testing.T) {
		code := &store.AuthCode{Hash: h("code"), ClientID: "c", Subject: "u", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if err := stores[1].PutCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		ok := race(func(i int, s *Store) error {
			fam := &store.Family{ID: fmt.Sprint("cf", i), ClientID: "c", Subject: "u", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			return s.RedeemCode(ctx, h("code"), fam, &store.RefreshToken{Hash: h(fmt.Sprint("crt", i))}, now)
		})
		if ok != 1 {
			t.Fatalf("%d redemptions succeeded, want 1", ok)
		}
		c, err := stores[2].GetCode(ctx, h("code"), now)
		if !errors.Is(err, store.ErrAlreadyUsed) {
			t.Fatalf("GetCode after race: %v", err)
		}
		f, err := stores[0].GetFamily(ctx, c.FamilyID)
		if err != nil || !f.Revoked() || f.RevokedReason != ReasonCodeReuse {
			t.Fatalf("family after race: %+v, %v", f, err)
		}
	})
	t.Run("UseOnce", func(t *testing.T) {
		ok := race(func(_ int, s *Store) error { return s.UseOnce(ctx, "jti", now.Add(time.Minute), now) })
		if ok != 1 {
			t.Fatalf("%d UseOnce calls succeeded, want 1", ok)
		}
	})
}

// TestPostgresConcurrentSweepers runs DeleteExpired from two stores at
// once, in small batches, until both find nothing left: every expired row
// goes, each exactly once, no live row goes, and neither sweeper fails
// (SKIP LOCKED: no waiting on, or deadlocking with, the other).
func TestPostgresConcurrentSweepers(t *testing.T) {
	dsn := pgSchema(t)
	a, b := openPG(t, dsn), openPG(t, dsn)
	defer a.Close()
	defer b.Close()
	ctx := t.Context()
	now := time.Now()
	const expired, live = 3000, 100
	// Bulk-insert with generate_series: the rows, not the inserts, are
	// under test.
	for _, q := range []string{
		`INSERT INTO one_time (key, expires_at) SELECT 'old-' || i, $1 FROM generate_series(1, $2) i`,
		`INSERT INTO revoked_access_tokens (jti, expires_at) SELECT 'old-' || i, $1 FROM generate_series(1, $2) i`,
		`INSERT INTO sessions (hash, subject, expires_at) SELECT sha256(('old-' || i)::bytea), 'u', $1 FROM generate_series(1, $2) i`,
	} {
		if _, err := a.w.ExecContext(ctx, q, now.Add(-time.Minute).UnixNano(), expired); err != nil {
			t.Fatal(err)
		}
		live := strings.ReplaceAll(q, "'old-'", "'live-'")
		if _, err := a.w.ExecContext(ctx, live, now.Add(time.Hour).UnixNano(), 100); err != nil {
			t.Fatal(err)
		}
	}
	var deleted atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			for {
				n, err := s.DeleteExpired(ctx, now, 50)
				if err != nil {
					errs[i] = err
					return
				}
				deleted.Add(int64(n))
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("sweeper %d: %v", i, err)
		}
	}
	// A sweeper stops at its first empty pass; the other may have had rows
	// locked at that moment, so finish with one sequential pass.
	n, err := a.DeleteExpired(ctx, now, expired)
	if err != nil {
		t.Fatal(err)
	}
	if got := deleted.Load() + int64(n); got != 3*expired {
		t.Fatalf("deleted %d rows, want %d", got, 3*expired)
	}
	for _, table := range []string{"one_time", "revoked_access_tokens", "sessions"} {
		var left int
		if err := a.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != live {
			t.Errorf("%s: %d rows left, want the %d live ones", table, left, live)
		}
	}
}

// TestPostgresRetry: a transaction failing with a serialization failure or
// a deadlock is run again; other errors are not retried.
func TestPostgresRetry(t *testing.T) {
	s := &Store{d: postgresDialect}
	for _, tc := range []struct {
		code  string
		tries int
	}{{pgSerializationFailure, 3}, {pgDeadlockDetected, 3}, {pgUniqueViolation, 1}} {
		calls := 0
		err := s.retry(t.Context(), func() error {
			calls++
			if calls < 3 {
				return fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: tc.code})
			}
			return nil
		})
		if calls != tc.tries {
			t.Errorf("SQLSTATE %s: %d calls, want %d (err %v)", tc.code, calls, tc.tries, err)
		}
	}
	calls := 0
	err := s.retry(t.Context(), func() error { calls++; return &pgconn.PgError{Code: pgSerializationFailure} })
	if calls != maxAttempts || pgCode(err) != pgSerializationFailure {
		t.Errorf("always failing: %d calls, err %v; want %d calls", calls, err, maxAttempts)
	}
	// SQLite has no retryable errors.
	calls = 0
	_ = (&Store{d: sqliteDialect}).retry(t.Context(), func() error { calls++; return &pgconn.PgError{Code: pgSerializationFailure} })
	if calls != 1 {
		t.Errorf("sqlite: %d calls, want 1", calls)
	}
}

// TestPostgresRetryRealDeadlock provokes a real deadlock between two
// transactions of the store's tx helper and checks that the one PostgreSQL
// aborts is retried and both complete.
func TestPostgresRetryRealDeadlock(t *testing.T) {
	s := openPG(t, pgSchema(t))
	defer s.Close()
	ctx := t.Context()
	for _, k := range []string{"a", "b"} {
		if err := s.PutPAR(ctx, &store.PARRequest{ID: k, ClientID: "c", Params: "", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	var attempts atomic.Int32
	var both sync.WaitGroup
	both.Add(2)
	lock := func(first, second string) error {
		n := 0
		return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			attempts.Add(1)
			if _, err := tx.ExecContext(ctx, `UPDATE par_requests SET params = params WHERE id = $1`, first); err != nil {
				return err
			}
			if n++; n == 1 {
				both.Done() // first attempt: wait until both hold their first lock
				both.Wait()
			}
			_, err := tx.ExecContext(ctx, `UPDATE par_requests SET params = params WHERE id = $1`, second)
			return err
		})
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = lock("a", "b") })
	wg.Go(func() { errs[1] = lock("b", "a") })
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("errors: %v, %v", errs[0], errs[1])
	}
	if attempts.Load() < 3 {
		t.Fatalf("%d attempts: expected a deadlock and a retry", attempts.Load())
	}
}

func TestRebindDollar(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`UPDATE t SET a = ? WHERE b = ? AND c > ?`, `UPDATE t SET a = $1 WHERE b = $2 AND c > $3`},
		{`SELECT '?', "a?b", ? -- what?` + "\n" + `FROM t WHERE x = ?`, `SELECT '?', "a?b", $1 -- what?` + "\n" + `FROM t WHERE x = $2`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
	} {
		if got := rebindDollar(tc.in); got != tc.want {
			t.Errorf("rebindDollar(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHasDSNParam(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want bool
	}{
		{"postgres://h/db?pool_max_conns=5", true},
		{"postgres://h/db?sslmode=disable&pool_max_conns=5", true},
		{"host=h pool_max_conns=5", true},
		{"pool_max_conns=5 host=h", true},
		{"postgres://h/db?x_pool_max_conns=5", false},
		{"postgres://h/db", false},
	} {
		if got := hasDSNParam(tc.dsn, "pool_max_conns"); got != tc.want {
			t.Errorf("hasDSNParam(%q) = %v, want %v", tc.dsn, got, tc.want)
		}
	}
}

// TestPostgresUnavailable: PostgreSQL behind a proxy the suite cuts
// (connections refused and reset) or black-holes (a silent partition,
// ended by store.timeout): every call reports store.ErrUnavailable,
// which the authorization server answers with 503.
func TestPostgresUnavailable(t *testing.T) {
	storetest.RunUnavailable(t, func(t *testing.T) storetest.Outage {
		u := wardtest.PostgresSchema(t, "ward_unavail_")
		proxy := wardtest.NewProxy(t, u.Host)
		u.Host = proxy.Addr()
		s, err := OpenPostgres(t.Context(), u.String(), Timeout(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return storetest.Outage{Store: s, Cut: proxy.Cut, Blackhole: proxy.Blackhole, Restore: func() { proxy.Restore(t) }}
	})
}
