package sqlstore

import (
	"context"
	"errors"
	"fmt"
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
	expiry: postgresExpiry,
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
		 AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id) LIMIT ? FOR UPDATE OF f SKIP LOCKED)`},
	{"PAR requests", `DELETE FROM par_requests WHERE id IN
		(SELECT id FROM par_requests WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`},
	{"one-time values", `DELETE FROM one_time WHERE key IN
		(SELECT key FROM one_time WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`},
	{"revoked access tokens", `DELETE FROM revoked_access_tokens WHERE jti IN
		(SELECT jti FROM revoked_access_tokens WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`},
	{"sessions", `DELETE FROM sessions WHERE hash IN
		(SELECT hash FROM sessions WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`},
}

// OpenPostgres connects to the PostgreSQL database named by dsn and applies
// pending migrations.
//
// dsn is a libpq connection string, as a URL
// (postgres://user:pass@host:5432/db?sslmode=verify-full) or as key=value
// pairs, read by jackc/pgx v5. Besides the libpq parameters it accepts the
// pgxpool ones, notably pool_max_conns (default DefaultPostgresMaxConns),
// and any server setting as a run-time parameter, such as
// search_path=ward to keep Ward's tables in their own schema.
//
// Queries run through database/sql on a pgxpool pool. Transactions use
// the server's default isolation, READ COMMITTED: every single-use step is
// a conditional write that exactly one concurrent transaction wins, and a
// transaction that fails with a serialization failure or a deadlock is
// retried. Migrations run in one transaction holding an advisory lock
// (pg_advisory_xact_lock), so instances starting together apply each
// migration once.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn redacts the password in parse errors.
		return nil, fmt.Errorf("sqlstore: PostgreSQL DSN: %w", err)
	}
	if !hasDSNParam(dsn, "pool_max_conns") {
		cfg.MaxConns = DefaultPostgresMaxConns
	}
	if !hasDSNParam(dsn, "pool_max_conn_idle_time") {
		cfg.MaxConnIdleTime = 5 * time.Minute
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: PostgreSQL pool: %w", err)
	}
	// One *sql.DB over the pool serves reads and writes: PostgreSQL needs
	// no single-writer connection.
	db := stdlib.OpenDBFromPool(pool)
	db.SetMaxOpenConns(int(cfg.MaxConns))
	s := &Store{d: postgresDialect, w: db, r: db, release: pool.Close}
	if err := db.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: connect to PostgreSQL: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
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
