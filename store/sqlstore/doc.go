// Package sqlstore implements [store.Store] on SQL databases: SQLite
// (modernc.org/sqlite, pure Go) as the embedded default ([OpenSQLite]), and
// PostgreSQL (jackc/pgx v5) for running several instances on one database
// ([OpenPostgres]). The SQL is kept to what both engines share; dialect.go
// lists what differs, and docs/SCALEOUT.md describes the PostgreSQL setup.
//
// The schema is applied by embedded, numbered migrations at Open, in one
// transaction, recorded in a schema_version table (on PostgreSQL under an
// advisory lock, so that instances starting together migrate once). Times
// are stored as Unix nanoseconds (NULL for the zero time), string slices as
// JSON text, and codes, refresh tokens and session cookies only as SHA-256
// hashes.
//
// SQLite is opened in WAL mode with busy_timeout, foreign keys on, and
// BEGIN IMMEDIATE for write transactions, so concurrent writers wait for
// each other instead of failing with SQLITE_BUSY. In one process all writes
// go through a single connection; reads use a small pool of their own.
//
// Single-use values (authorization codes, refresh tokens, PAR request
// URIs, one-time keys) are consumed by conditional writes that exactly one
// concurrent caller can win. A replayed code or refresh token revokes its
// family in the same committed transaction that reports
// [store.ErrAlreadyUsed]. docs/STORAGE.md lists each guarantee and the
// conformance test in store/storetest that checks it.
package sqlstore
