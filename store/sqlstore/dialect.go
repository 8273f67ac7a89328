package sqlstore

import (
	"embed"
	"errors"
	"io/fs"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Everything that differs between SQL engines lives in a dialect. The
// queries elsewhere are written in the subset SQLite and PostgreSQL share:
// "?" placeholders (rebound per dialect), INSERT ... ON CONFLICT ... DO
// UPDATE for upserts, DELETE ... RETURNING, CASE instead of MAX/GREATEST,
// and subqueries with LIMIT instead of DELETE ... LIMIT. Row locking needs no
// dialect code: every single-use transition is a conditional UPDATE or
// DELETE (WHERE rotated_at IS NULL, WHERE used_at IS NULL, DELETE ...
// RETURNING) that exactly one concurrent caller can win, under SQLite's
// database lock as well as PostgreSQL's row locks at READ COMMITTED.
type dialect struct {
	name string
	// migrations holds NNNN_description.sql files, applied in order.
	migrations fs.FS
	// rebind rewrites "?" placeholders into the dialect's form.
	rebind func(query string) string
	// isUniqueViolation reports whether err is a primary key or unique
	// constraint violation.
	isUniqueViolation func(err error) bool

	// Added for the PostgreSQL dialect (postgres.go); SQLite's values keep
	// its behaviour unchanged.

	// versionTable is the DDL of the schema_version table.
	versionTable string
	// lockMigrations, when set, runs first in the migration transaction and
	// holds a lock until it ends, so that processes starting together apply
	// migrations one after the other.
	lockMigrations string
	// unboundMigrations, when set, runs first in the migration
	// transaction and lifts the per-statement server timeout the pool's
	// connections carry (a migration is bounded by its caller instead).
	unboundMigrations string
	// isRetryable reports whether a transaction failed only because of
	// concurrency (serialization failure, deadlock) and can be run again;
	// nil when the engine never asks for that.
	isRetryable func(err error) bool
	// expiry is the list of DeleteExpired statements (see misc.go).
	expiry []expiryStmt
	// lockRefresh ends the SELECT of a refresh token being rotated: on
	// PostgreSQL it locks the token's row, so that rotations and grace
	// re-issues of one token run one after the other as under SQLite's
	// database lock (RotateRefreshTokenGrace reads the successor it
	// replaces). Empty for SQLite.
	lockRefresh string
	// skipLocked ends the SELECT of the rows a claim takes (ClaimLogouts):
	// on PostgreSQL concurrent claimers then pick disjoint rows instead of
	// queueing on each other's locks. Empty for SQLite.
	skipLocked string
}

//go:embed migrations
var migrationFiles embed.FS

var sqliteDialect = &dialect{
	name:       "sqlite",
	migrations: mustSub(migrationFiles, "migrations/sqlite"),
	rebind:     func(q string) string { return q },
	isUniqueViolation: func(err error) bool {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return false
		}
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return true
		}
		return false
	},
	versionTable: `CREATE TABLE IF NOT EXISTS schema_version (
			version    INTEGER PRIMARY KEY,
			applied_at INTEGER NOT NULL
		)`,
	expiry: expiry,
}

// sqliteDSN builds the modernc.org/sqlite DSN for path:
//   - _txlock=immediate: BEGIN IMMEDIATE, so a write transaction takes the
//     write lock at its start and concurrent writers wait (busy_timeout)
//     instead of failing with SQLITE_BUSY when upgrading a read lock;
//   - busy_timeout(5000): wait up to 5 s for another connection's lock;
//   - journal_mode(WAL): readers do not block the writer and vice versa;
//   - foreign_keys(1): enforce REFERENCES (off by default in SQLite);
//   - synchronous(FULL): every commit is fsynced before it returns, so a power
//     loss cannot roll back a refresh-token rotation or a code redemption
//     and make a used value usable again (NORMAL would risk that).
func sqliteDSN(path string, readOnly bool) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	dsn := path + sep + "_txlock=immediate" +
		"&_pragma=busy_timeout(5000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(FULL)"
	if readOnly {
		dsn += "&_pragma=query_only(1)"
	}
	return dsn
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
