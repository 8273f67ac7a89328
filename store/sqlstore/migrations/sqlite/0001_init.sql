-- Ward storage schema, SQLite dialect.
-- Times are Unix nanoseconds (INTEGER, NULL for the zero time); string
-- slices are JSON arrays (TEXT); secrets are stored as SHA-256 hashes (BLOB).
-- A PostgreSQL dialect uses the same tables with BYTEA for BLOB and BIGINT
-- for INTEGER.

CREATE TABLE clients (
	id                TEXT    PRIMARY KEY,
	name              TEXT    NOT NULL,
	auth_method       TEXT    NOT NULL,
	secret_hash       BLOB,
	jwks              BLOB,
	redirect_uris     TEXT    NOT NULL,
	grant_types       TEXT    NOT NULL,
	scopes            TEXT    NOT NULL,
	audiences         TEXT    NOT NULL,
	sender_constraint TEXT    NOT NULL,
	require_par       INTEGER NOT NULL,
	access_token_ttl  INTEGER NOT NULL,
	static            INTEGER NOT NULL,
	created_at        INTEGER
);

CREATE TABLE users (
	subject       TEXT    PRIMARY KEY,
	username      TEXT    NOT NULL UNIQUE,
	password_hash TEXT    NOT NULL,
	static        INTEGER NOT NULL,
	created_at    INTEGER,
	updated_at    INTEGER
);

CREATE TABLE auth_codes (
	hash           BLOB    PRIMARY KEY,
	client_id      TEXT    NOT NULL,
	subject        TEXT    NOT NULL,
	redirect_uri   TEXT    NOT NULL,
	scope          TEXT    NOT NULL,
	resources      TEXT    NOT NULL,
	code_challenge TEXT    NOT NULL,
	dpop_jkt       TEXT    NOT NULL,
	auth_time      INTEGER,
	created_at     INTEGER,
	expires_at     INTEGER,
	family_id      TEXT    NOT NULL DEFAULT '',
	used_at        INTEGER
);
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE families (
	id              TEXT    PRIMARY KEY,
	client_id       TEXT    NOT NULL,
	subject         TEXT    NOT NULL,
	scope           TEXT    NOT NULL,
	resources       TEXT    NOT NULL,
	jkt             TEXT    NOT NULL,
	cert_thumbprint TEXT    NOT NULL,
	auth_time       INTEGER,
	created_at      INTEGER,
	expires_at      INTEGER,
	revoked_at      INTEGER,
	revoked_reason  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX families_subject ON families (subject);
CREATE INDEX families_expires_at ON families (expires_at);

CREATE TABLE refresh_tokens (
	hash       BLOB    PRIMARY KEY,
	family_id  TEXT    NOT NULL REFERENCES families (id) ON DELETE CASCADE,
	scope      TEXT    NOT NULL,
	created_at INTEGER,
	expires_at INTEGER,
	rotated_at INTEGER
);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);

CREATE TABLE revoked_access_tokens (
	jti        TEXT    PRIMARY KEY,
	expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);

CREATE TABLE one_time (
	key        TEXT    PRIMARY KEY,
	expires_at INTEGER NOT NULL
);
CREATE INDEX one_time_expires_at ON one_time (expires_at);

CREATE TABLE par_requests (
	id         TEXT    PRIMARY KEY,
	client_id  TEXT    NOT NULL,
	params     TEXT    NOT NULL,
	created_at INTEGER,
	expires_at INTEGER
);
CREATE INDEX par_requests_expires_at ON par_requests (expires_at);

CREATE TABLE consents (
	subject    TEXT    NOT NULL,
	client_id  TEXT    NOT NULL,
	scopes     TEXT    NOT NULL,
	granted_at INTEGER,
	PRIMARY KEY (subject, client_id)
);

CREATE TABLE sessions (
	hash       BLOB    PRIMARY KEY,
	subject    TEXT    NOT NULL,
	auth_time  INTEGER,
	created_at INTEGER,
	expires_at INTEGER
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE signing_keys (
	id           TEXT    PRIMARY KEY,
	algorithm    TEXT    NOT NULL,
	public_jwk   BLOB    NOT NULL,
	private_enc  BLOB    NOT NULL,
	created_at   INTEGER,
	activates_at INTEGER,
	retires_at   INTEGER,
	expires_at   INTEGER
);
