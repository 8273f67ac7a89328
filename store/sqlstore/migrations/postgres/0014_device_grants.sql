-- Device authorization grants (RFC 8628; docs/DEVICE.md). hash is the
-- SHA-256 of the device_code, user_code_hash that of the normalised
-- user_code. jkt / cert_thumbprint: the key fixed by dpop_jkt or the
-- first poll, '' until then. status: pending, approved, denied, redeemed.
CREATE TABLE device_grants (
	hash            BYTEA   PRIMARY KEY,
	user_code_hash  BYTEA   NOT NULL UNIQUE,
	client_id       TEXT    NOT NULL,
	scope           TEXT    NOT NULL,
	resources       TEXT    NOT NULL,
	jkt             TEXT    NOT NULL DEFAULT '',
	cert_thumbprint TEXT    NOT NULL DEFAULT '',
	interval_ns     BIGINT  NOT NULL,
	last_poll_at    BIGINT  NOT NULL DEFAULT 0,
	status          TEXT    NOT NULL,
	subject         TEXT    NOT NULL DEFAULT '',
	auth_time       BIGINT,
	family_id       TEXT    NOT NULL DEFAULT '',
	created_at      BIGINT,
	expires_at      BIGINT  NOT NULL
);
CREATE INDEX device_grants_expires_at ON device_grants (expires_at);
