-- Dynamic client registration (RFC 7591, RFC 7592; docs/REGISTRATION.md).
-- A registered client is dynamic, keeps the SHA-256 of its registration
-- access token, and expires_at (Unix nanoseconds): when it has passed and
-- no token family of the client is left, DeleteExpired removes it.
ALTER TABLE clients ADD COLUMN dynamic INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN registration_token_hash BLOB;
ALTER TABLE clients ADD COLUMN expires_at INTEGER;
CREATE INDEX clients_expires_at ON clients (expires_at);
CREATE INDEX families_client_id ON families (client_id);
-- Initial access tokens (RFC 7591 §3): SHA-256 only, until expires_at.
CREATE TABLE initial_access_tokens (
	hash       BLOB    PRIMARY KEY,
	single_use INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX initial_access_tokens_expires_at ON initial_access_tokens (expires_at);
