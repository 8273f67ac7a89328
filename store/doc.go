// Package store defines what Ward's authorization server persists: clients,
// users, authorization codes, token families and refresh tokens, pushed
// authorization requests, consents, sessions and signing keys.
//
// The interfaces are implemented by store/sqlstore (SQLite, the embedded
// default, and PostgreSQL for scale-out). Every implementation must pass the
// conformance suite in store/storetest, so that they behave the same.
// Secrets (codes, refresh tokens, session cookies) are stored only as
// SHA-256 hashes.
//
// Errors are the sentinels of this package, wrapped with %w. An
// implementation reports an outage of its backing service (a network
// error, its deadline passed, SQLite busy) as ErrUnavailable, the cause
// kept, so a caller tells "try again later" from every other failure with
// errors.Is alone; storetest.RunUnavailable checks it through a proxy
// the suite cuts.
package store
