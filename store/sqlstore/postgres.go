package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// DefaultPostgresMaxConns is the size of the connection pool OpenPostgres
// creates when the DSN has no pool_max_conns parameter. Size it per
// instance so that instances × pool_max_conns stays below the server's
// max_connections (100 by default).
const DefaultPostgresMaxConns = 20

// PostgreSQL error codes (SQLSTATE) the dialect acts on.
const (
	pgUniqueViolation      = "23505"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
	pgReadOnlyTransaction  = "25006"
)

// migrationLockKey names the advisory lock held while migrating. It is
// combined with the current schema, so that stores in different schemas of
// one database (the tests use one schema each) do not wait for each other,
// while every instance sharing a schema does.
const migrationLockKey = "ward.sqlstore.migrate"

var postgresDialect = &dialect{
	name:              "postgres",
	migrations:        mustSub(migrationFiles, "migrations/postgres"),
	rebind:            rebindDollar,
	lockRefresh:       ` FOR UPDATE OF t`,
	isUniqueViolation: func(err error) bool { return pgCode(err) == pgUniqueViolation },
	isRetryable: func(err error) bool {
		switch pgCode(err) {
		case pgSerializationFailure, pgDeadlockDetected:
			return true
		}
		return false
	},
	versionTable: `CREATE TABLE IF NOT EXISTS schema_version (
			version    BIGINT PRIMARY KEY,
			applied_at BIGINT NOT NULL
		)`,
	// pg_advisory_xact_lock is released when the migration transaction
	// commits or rolls back. COALESCE: with no valid schema on search_path,
	// current_schema() is NULL, and the lock function would return NULL
	// without locking.
	lockMigrations: `SELECT pg_advisory_xact_lock(hashtextextended('` + migrationLockKey +
		`:' || COALESCE(current_schema(), ''), 0))`,
	// SET LOCAL: the connection's own statement_timeout is back when
	// the migration transaction ends.
	unboundMigrations: `SET LOCAL statement_timeout = 0`,
	expiry:            postgresExpiry,
	skipLocked:        " FOR UPDATE SKIP LOCKED",
}

// postgresExpiry is the expiry list of misc.go with FOR UPDATE SKIP LOCKED
// in each batch's subquery: concurrent sweepers (one per instance) then
// pick disjoint batches instead of queueing on each other's row locks, and
// two sweepers can never lock the same rows in different orders and
// deadlock. A row a sweeper skips is left for the next call.
var postgresExpiry = []expiryStmt{
	{"codes", `DELETE FROM auth_codes WHERE hash IN
		(SELECT hash FROM auth_codes WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`},
	{"refresh tokens", `DELETE FROM refresh_tokens WHERE hash IN
		(SELECT t.hash FROM refresh_tokens t JOIN families f ON f.id = t.family_id
		 WHERE f.expires_at <= ? LIMIT ? FOR UPDATE OF t SKIP LOCKED)`},
	{"families", `DELETE FROM families WHERE id IN
		(SELECT f.id FROM families f WHERE f.expires_at <= ?
		 AND (f.revoked_at IS NULL OR f.expires_at > f.revoked_at + ` + retention + `)
		 AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id) LIMIT ? FOR UPDATE OF f SKIP LOCKED)`},
	{"revoked families", `DELETE FROM families WHERE id IN
		(SELECT f.id FROM families f WHERE f.revoked_at <= ?::BIGINT - ` + retention + `
		 AND f.expires_at <= f.revoked_at + ` + retention + `
		 AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id) LIMIT ? FOR UPDATE OF f SKIP LOCKED)`},
	{"PAR requests", `DELETE FROM par_requests WHERE id IN
		(SELECT id FROM par_requests WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`},
	{"one-time values", `DELETE FROM one_time WHERE key IN
		(SELECT key FROM one_time WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`},
	{"device grants", `DELETE FROM device_grants WHERE hash IN
		(SELECT hash FROM device_grants WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`},
	{"revoked access tokens", `DELETE FROM revoked_access_tokens WHERE jti IN
		(SELECT jti FROM revoked_access_tokens WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`},
	{"sessions", `DELETE FROM sessions WHERE hash IN
		(SELECT hash FROM sessions WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`},
	{"logout deliveries", `DELETE FROM logout_outbox WHERE id IN
		(SELECT id FROM logout_outbox WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`},
	{"security events", `DELETE FROM security_events WHERE id IN
		(SELECT id FROM security_events WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`},
	{"dynamic clients", `DELETE FROM clients WHERE id IN
		(SELECT c.id FROM clients c WHERE c.dynamic AND c.expires_at <= ?
		 AND NOT EXISTS (SELECT 1 FROM families f WHERE f.client_id = c.id) LIMIT ? FOR UPDATE OF c SKIP LOCKED)`},
	{"initial access tokens", `DELETE FROM initial_access_tokens WHERE hash IN
		(SELECT hash FROM initial_access_tokens WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`}}

// OpenPostgres connects to the PostgreSQL database named by dsn and applies
// pending migrations. Each store call is bounded (see Timeout); Open
// itself is bounded by ctx, and each connection attempt by the DSN's
// connect_timeout, which defaults to the Timeout.
//
// dsn is a libpq connection string, as a URL
// (postgres://user:pass@host:5432/db?sslmode=verify-full) or as key=value
// pairs, read by jackc/pgx v5. Besides the libpq parameters it accepts
// pool_max_conns (default DefaultPostgresMaxConns), pool_max_conn_lifetime
// and pool_max_conn_idle_time (default 5m), and any server setting as a
// run-time parameter, such as search_path=ward to keep Ward's tables in
// their own schema.
//
// Queries run through database/sql's own connection pool over pgx's
// stdlib driver (see poolFromDSN for why not pgxpool). Transactions use
// the server's default isolation, READ COMMITTED: every single-use step is
// a conditional write that exactly one concurrent transaction wins, and a
// transaction that fails with a serialization failure or a deadlock is
// retried. Migrations run in one transaction holding an advisory lock
// (pg_advisory_xact_lock), so instances starting together apply each
// migration once.
func OpenPostgres(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := buildOptions(opts)
	sdb, err := poolFromDSN(dsn, o)
	if err != nil {
		return nil, err
	}
	// One *sql.DB serves reads and writes: PostgreSQL needs no
	// single-writer connection.
	d := &db{DB: sdb, timeout: o.timeout}
	s := &Store{d: postgresDialect, w: d, r: d}
	if err := sdb.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: connect to PostgreSQL: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// unsupportedPoolParams are pgxpool settings database/sql's pool has no
// equivalent for; a DSN naming one is refused rather than half obeyed.
var unsupportedPoolParams = []string{"pool_min_conns", "pool_min_idle_conns", "pool_health_check_period", "pool_max_conn_lifetime_jitter"}

// poolFromDSN opens a database/sql pool of pgx connections as dsn says
// (see parseDSN).
//
// Not pgxpool under database/sql: a connection abandoned at a deadline is
// closed by pgx, which first sends a cancel request on a new connection
// and waits up to 15 s for it; pgxpool keeps the connection's slot until
// then, so after a partition the pool stays full of closing connections
// (TestPostgresPartitionIsBounded saw every call fail for those 15 s
// after the network was back). database/sql frees the slot at once.
func poolFromDSN(dsn string, o options) (*sql.DB, error) {
	cfg, err := parseDSN(dsn, o)
	if err != nil {
		return nil, err
	}
	sdb := stdlib.OpenDB(*cfg.ConnConfig)
	sdb.SetMaxOpenConns(int(cfg.MaxConns))
	sdb.SetMaxIdleConns(int(cfg.MaxConns))
	sdb.SetConnMaxIdleTime(cfg.MaxConnIdleTime)
	sdb.SetConnMaxLifetime(cfg.MaxConnLifetime)
	return sdb, nil
}

// parseDSN reads dsn with pgxpool's parser (for the pool_ settings) and
// fills in Ward's defaults: DefaultPostgresMaxConns connections, idle ones
// closed after 5 minutes, a connect_timeout of o.timeout, the server-side
// timeouts (serverTimeouts) unless o says not to, and dropReadOnly.
func parseDSN(dsn string, o options) (*pgxpool.Config, error) {
	timeout := o.timeout
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn redacts the password in parse errors.
		return nil, fmt.Errorf("sqlstore: PostgreSQL DSN: %w", err)
	}
	for _, p := range unsupportedPoolParams {
		if hasDSNParam(dsn, p) {
			return nil, fmt.Errorf("sqlstore: PostgreSQL DSN: %s is not supported (pool_max_conns, pool_max_conn_lifetime and pool_max_conn_idle_time are)", p)
		}
	}
	if !hasDSNParam(dsn, "pool_max_conns") {
		cfg.MaxConns = DefaultPostgresMaxConns
	}
	if !hasDSNParam(dsn, "pool_max_conn_idle_time") {
		cfg.MaxConnIdleTime = 5 * time.Minute
	}
	if !hasDSNParam(dsn, "connect_timeout") && os.Getenv("PGCONNECT_TIMEOUT") == "" {
		// Without it a dial or handshake into a partition waits as long
		// as the caller's context allows: forever for database/sql's
		// background connection openers.
		cfg.ConnConfig.ConnectTimeout = timeout
	}
	if !o.noServerTimeouts {
		serverTimeouts(cfg.ConnConfig.RuntimeParams, timeout)
	}
	cfg.ConnConfig.OnPgError = dropReadOnly(cfg.ConnConfig.OnPgError)
	return cfg, nil
}

// serverTimeouts sets statement_timeout and
// idle_in_transaction_session_timeout to timeout on every connection,
// unless the DSN sets them. The store's deadline (deadline.go) already
// ends a call on Ward's side; these end it on the server too, so that a
// statement stalled on a lock or a slow disk, or a transaction whose
// caller vanished (a partition, a killed instance), releases its locks
// and its backend instead of pinning them (and the connection slot) until
// TCP notices.
func serverTimeouts(params map[string]string, timeout time.Duration) {
	ms := strconv.FormatInt(timeout.Milliseconds(), 10)
	for _, p := range []string{"statement_timeout", "idle_in_transaction_session_timeout"} {
		if _, ok := params[p]; !ok {
			params[p] = ms
		}
	}
}

// dropReadOnly wraps pgx's error handler (which closes a connection on a
// FATAL error) so that a connection answering 25006
// (read_only_sql_transaction) is closed too. Such a connection reaches a
// server that is no longer the primary: after a failover the old primary
// may come back as a standby, or a proxy or DNS name may still lead to
// it. Closed, it is dropped when database/sql next takes it from the
// pool (stdlib's ResetSession answers driver.ErrBadConn for a closed
// connection, and database/sql takes or dials another without the call
// seeing it), so the next call dials afresh, and
// target_session_attrs=read-write finds the new primary.
// Without this, every pooled connection to the old server would keep
// refusing writes until its lifetime ends.
func dropReadOnly(next pgconn.PgErrorHandler) pgconn.PgErrorHandler {
	return func(c *pgconn.PgConn, e *pgconn.PgError) bool {
		if e.Code == pgReadOnlyTransaction {
			return false
		}
		return next == nil || next(c, e)
	}
}

// hasDSNParam reports whether a URL or key=value DSN sets the parameter
// name.
func hasDSNParam(dsn, name string) bool {
	for _, sep := range []string{"?", "&", " ", "\t", "\n"} {
		if strings.Contains(dsn, sep+name+"=") || strings.HasPrefix(dsn, name+"=") {
			return true
		}
	}
	return false
}

// pgCode returns the SQLSTATE of a PostgreSQL error in err's chain, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// rebindDollar rewrites "?" placeholders as $1, $2, ... It leaves "?"
// inside quoted strings ('...'), quoted identifiers ("...") and comments
// alone, though Ward's queries have none.
func rebindDollar(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(query[i+1:], c)
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+1])
			i += j
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
