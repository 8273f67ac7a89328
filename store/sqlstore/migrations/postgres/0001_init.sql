-- Ward storage schema, PostgreSQL dialect: the same tables as
-- migrations/sqlite/0001_init.sql, with BIGINT for times (Unix nanoseconds,
-- NULL for the zero time) and durations, BYTEA for hashes and keys, and
-- BOOLEAN for flags. String slices are JSON arrays (TEXT).

CREATE TABLE clients (
	id                TEXT    PRIMARY KEY,
	name              TEXT    NOT NULL,
	auth_method       TEXT    NOT NULL,
	secret_hash       BYTEA,
	jwks              BYTEA,
	redirect_uris     TEXT    NOT NULL,
	grant_types       TEXT    NOT NULL,
	scopes            TEXT    NOT NULL,
	audiences         TEXT    NOT NULL,
	sender_constraint TEXT    NOT NULL,
	require_par       BOOLEAN NOT NULL,
	access_token_ttl  BIGINT  NOT NULL,
	static            BOOLEAN NOT NULL,
	created_at        BIGINT
);

CREATE TABLE users (
	subject       TEXT    PRIMARY KEY,
	username      TEXT    NOT NULL UNIQUE,
	password_hash TEXT    NOT NULL,
	static        BOOLEAN NOT NULL,
	created_at    BIGINT,
	updated_at    BIGINT
);

CREATE TABLE auth_codes (
	hash           BYTEA   PRIMARY KEY,
	client_id      TEXT    NOT NULL,
	subject        TEXT    NOT NULL,
	redirect_uri   TEXT    NOT NULL,
	scope          TEXT    NOT NULL,
	resources      TEXT    NOT NULL,
	code_challenge TEXT    NOT NULL,
	dpop_jkt       TEXT    NOT NULL,
	auth_time      BIGINT,
	created_at     BIGINT,
	expires_at     BIGINT,
	family_id      TEXT    NOT NULL DEFAULT '',
	used_at        BIGINT
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
	auth_time       BIGINT,
	created_at      BIGINT,
	expires_at      BIGINT,
	revoked_at      BIGINT,
	revoked_reason  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX families_subject ON families (subject);
CREATE INDEX families_expires_at ON families (expires_at);

CREATE TABLE refresh_tokens (
	hash       BYTEA   PRIMARY KEY,
	family_id  TEXT    NOT NULL REFERENCES families (id) ON DELETE CASCADE,
	scope      TEXT    NOT NULL,
	created_at BIGINT,
	expires_at BIGINT,
	rotated_at BIGINT
);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);

CREATE TABLE revoked_access_tokens (
	jti        TEXT    PRIMARY KEY,
	expires_at BIGINT  NOT NULL
);
CREATE INDEX revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);

CREATE TABLE one_time (
	key        TEXT    PRIMARY KEY,
	expires_at BIGINT  NOT NULL
);
CREATE INDEX one_time_expires_at ON one_time (expires_at);

CREATE TABLE par_requests (
	id         TEXT    PRIMARY KEY,
	client_id  TEXT    NOT NULL,
	params     TEXT    NOT NULL,
	created_at BIGINT,
	expires_at BIGINT
);
CREATE INDEX par_requests_expires_at ON par_requests (expires_at);

CREATE TABLE consents (
	subject    TEXT    NOT NULL,
	client_id  TEXT    NOT NULL,
	scopes     TEXT    NOT NULL,
	granted_at BIGINT,
	PRIMARY KEY (subject, client_id)
);

CREATE TABLE sessions (
	hash       BYTEA   PRIMARY KEY,
	subject    TEXT    NOT NULL,
	auth_time  BIGINT,
	created_at BIGINT,
	expires_at BIGINT
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE signing_keys (
	id           TEXT    PRIMARY KEY,
	algorithm    TEXT    NOT NULL,
	public_jwk   BYTEA   NOT NULL,
	private_enc  BYTEA   NOT NULL,
	created_at   BIGINT,
	activates_at BIGINT,
	retires_at   BIGINT,
	expires_at   BIGINT
);
