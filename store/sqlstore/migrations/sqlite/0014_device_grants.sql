-- Device authorization grants (RFC 8628; docs/DEVICE.md). hash is the
-- SHA-256 of the device_code, user_code_hash that of the normalised
-- user_code. jkt / cert_thumbprint: the key fixed by dpop_jkt or the
-- first poll, '' until then. status: pending, approved, denied, redeemed.
CREATE TABLE device_grants (
	hash            BLOB    PRIMARY KEY,
	user_code_hash  BLOB    NOT NULL UNIQUE,
	client_id       TEXT    NOT NULL,
	scope           TEXT    NOT NULL,
	resources       TEXT    NOT NULL,
	jkt             TEXT    NOT NULL DEFAULT '',
	cert_thumbprint TEXT    NOT NULL DEFAULT '',
	interval_ns     INTEGER NOT NULL,
	last_poll_at    INTEGER NOT NULL DEFAULT 0,
	status          TEXT    NOT NULL,
	subject         TEXT    NOT NULL DEFAULT '',
	auth_time       INTEGER,
	family_id       TEXT    NOT NULL DEFAULT '',
	created_at      INTEGER,
	expires_at      INTEGER NOT NULL
);
CREATE INDEX device_grants_expires_at ON device_grants (expires_at);
