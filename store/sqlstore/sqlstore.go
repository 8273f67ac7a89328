package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/wardauth/ward/store"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var _ store.Store = (*Store)(nil)

// Store is a [store.Store] backed by a SQL database. It is safe for
// concurrent use.
type Store struct {
	d *dialect
	// w runs every write and every transaction. For SQLite it holds a single
	// connection, so writers in this process queue in database/sql instead of
	// contending for the database lock; other processes wait on busy_timeout.
	w *db
	// r runs plain reads; in WAL mode they proceed while a write is in
	// progress. It is w itself for an in-memory database.
	r         *db
	closeOnce sync.Once
	closeErr  error
}

// OpenSQLite opens (creating it if needed) the SQLite database at path and
// applies pending migrations. path is a file name or a "file:" URI; the
// in-memory database ":memory:" (or a "mode=memory" URI) is served by a
// single connection, so every caller sees the same data. Each call is
// bounded (see Timeout); Open itself is bounded by ctx alone.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlstore: empty SQLite path")
	}
	o := buildOptions(opts)
	memory := path == ":memory:" || strings.Contains(path, "mode=memory")
	w, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	// Never close the idle connection: for :memory: it is the database.
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	s := &Store{d: sqliteDialect, w: &db{DB: w, timeout: o.timeout}}
	s.r = s.w
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if !memory {
		r, err := sql.Open("sqlite", sqliteDSN(path, true))
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
		}
		r.SetMaxOpenConns(4)
		s.r = &db{DB: r, timeout: o.timeout}
	}
	return s, nil
}

// Close closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		err := s.w.Close()
		if s.r != s.w {
			err = errors.Join(err, s.r.Close())
		}
		s.closeErr = err
	})
	return s.closeErr
}

// q rewrites a query's placeholders for the dialect.
func (s *Store) q(query string) string { return s.d.rebind(query) }

// commitThen, returned from a tx callback, commits the transaction and then
// returns err: used where a failed request must still persist a change,
// such as revoking a family when a code or refresh token is replayed.
type commitThen struct{ err error }

func (c *commitThen) Error() string { return c.err.Error() }

// tx runs fn in a write transaction (BEGIN IMMEDIATE on SQLite), committing
// when fn returns nil or a *commitThen, rolling back otherwise. A
// transaction that fails only because of concurrency (see retry) is run
// again from the start, so fn must not depend on state from an earlier run.
// The whole call, retries included, runs under the store's deadline; fn
// gets that context and must run its statements under it (a statement
// under another context would hold the transaction past the deadline). An
// outage is reported wrapped with store.ErrUnavailable (unavailable.go).
func (s *Store) tx(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	ctx, cancel := bound(ctx, s.w.timeout)
	defer cancel()
	return unavailable(s.runTx(ctx, fn))
}

// runTx is tx under ctx alone, without the store's deadline.
func (s *Store) runTx(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	return s.retry(ctx, func() error { return s.tx1(ctx, fn) })
}

// maxAttempts bounds how often retry runs a statement or transaction.
const maxAttempts = 8

// retry runs fn, and runs it again (up to maxAttempts in all, with a short
// jittered backoff) while it fails with an error the dialect reports as
// retryable: on PostgreSQL a serialization failure (SQLSTATE 40001) or a
// deadlock (40P01), after which the server has rolled the transaction back.
// SQLite has no retryable errors (writers wait on busy_timeout instead).
func (s *Store) retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || s.d.isRetryable == nil || attempt == maxAttempts || !s.d.isRetryable(err) {
			return err
		}
		backoff := time.Millisecond << attempt
		t := time.NewTimer(backoff/2 + rand.N(backoff/2))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func (s *Store) tx1(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	err = fn(ctx, tx)
	var ct *commitThen
	if err != nil && !errors.As(err, &ct) {
		_ = tx.Rollback()
		return err
	}
	if cerr := tx.Commit(); cerr != nil {
		return fmt.Errorf("sqlstore: commit: %w", cerr)
	}
	if ct != nil {
		return ct.err
	}
	return nil
}

// exec1 runs a write that must affect exactly one row; it returns notFound
// when it affects none.
func exec1(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, notFound error, args ...any) error {
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// Times are stored as Unix nanoseconds, the zero time as NULL.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func timeVal(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// Slices are stored as JSON arrays; an empty slice reads back as nil.
func jsonArg[T ~string](v []T) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v) // []string always marshals
	return string(b)
}

func jsonVal[T ~string](s string) ([]T, error) {
	var v []T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("sqlstore: decode JSON column: %w", err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// jsonVals decodes several JSON columns into their destinations.
func jsonVals(pairs ...any) error {
	for i := 0; i < len(pairs); i += 2 {
		var err error
		switch dst := pairs[i+1].(type) {
		case *[]oauth.GrantType:
			*dst, err = jsonVal[oauth.GrantType](pairs[i].(string))
		default:
			*dst.(*[]string), err = jsonVal[string](pairs[i].(string))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func bytesArg(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// queryAll runs a read query and scans every row with scan; what names the
// operation in errors ("list clients").
func queryAll[T any](ctx context.Context, s *Store, what, query string, scan func(scanner) (T, error), args ...any) ([]T, error) {
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", what, err)
	}
	return out, nil
}
