package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// DefaultTimeout bounds each store call when no Timeout option is given.
const DefaultTimeout = 5 * time.Second

// Option configures OpenSQLite and OpenPostgres.
type Option func(*options)

type options struct {
	timeout          time.Duration
	noServerTimeouts bool
}

func buildOptions(opts []Option) options {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Timeout bounds every store call, from waiting for a pooled connection
// to the commit: a call that has not finished by then is abandoned and
// returns an error wrapping context.DeadlineExceeded (a transaction is
// rolled back). A database that stops answering without closing its
// connections (a network partition) then costs a caller d, not forever.
// d ≤ 0 keeps DefaultTimeout. It also bounds each PostgreSQL connection
// attempt when the DSN has no connect_timeout.
func Timeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// ServerTimeouts sets whether OpenPostgres's connections carry
// statement_timeout and idle_in_transaction_session_timeout equal to the
// Timeout (on by default; a DSN that sets either keeps its value). Turn
// it off behind a pooler that refuses these start-up parameters
// (PgBouncer, unless they are in its ignore_startup_parameters), and set
// them on the database role instead (ALTER ROLE … SET statement_timeout).
func ServerTimeouts(on bool) Option {
	return func(o *options) { o.noServerTimeouts = !on }
}

// db is a *sql.DB whose queries each run under the store's deadline: the
// one place where sqlstore hands a context to database/sql, so no store
// call can wait on the database without bound; its errors say an outage
// with store.ErrUnavailable (unavailable.go). Transactions get theirs in
// Store.tx.
type db struct {
	*sql.DB
	timeout time.Duration
}

// bound derives the context a call runs under: ctx, ending at most
// timeout from now.
func bound(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, timeout)
}

// ExecContext is sql.DB.ExecContext under the deadline.
func (d *db) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, cancel := bound(ctx, d.timeout)
	defer cancel()
	res, err := d.DB.ExecContext(ctx, query, args...)
	return res, unavailable(err)
}

// QueryRowContext is sql.DB.QueryRowContext under the deadline, which
// ends when the row is scanned.
func (d *db) QueryRowContext(ctx context.Context, query string, args ...any) *row {
	ctx, cancel := bound(ctx, d.timeout)
	return &row{Row: d.DB.QueryRowContext(ctx, query, args...), cancel: cancel}
}

// QueryContext is sql.DB.QueryContext under the deadline, which ends when
// the rows are closed.
func (d *db) QueryContext(ctx context.Context, query string, args ...any) (*rows, error) {
	ctx, cancel := bound(ctx, d.timeout)
	rs, err := d.DB.QueryContext(ctx, query, args...)
	if err != nil {
		cancel()
		return nil, unavailable(err)
	}
	return &rows{Rows: rs, cancel: cancel}, nil
}

// row is a *sql.Row whose deadline ends with Scan.
type row struct {
	*sql.Row
	cancel context.CancelFunc
}

func (r *row) Scan(dest ...any) error {
	defer r.cancel()
	return unavailable(r.Row.Scan(dest...))
}

// rows is a *sql.Rows whose deadline ends with Close.
type rows struct {
	*sql.Rows
	cancel context.CancelFunc
}

func (r *rows) Close() error {
	defer r.cancel()
	return r.Rows.Close()
}

// Scan is sql.Rows.Scan, an outage wrapped (unavailable.go).
func (r *rows) Scan(dest ...any) error { return unavailable(r.Rows.Scan(dest...)) }

// Err is sql.Rows.Err, an outage wrapped (unavailable.go).
func (r *rows) Err() error { return unavailable(r.Rows.Err()) }
