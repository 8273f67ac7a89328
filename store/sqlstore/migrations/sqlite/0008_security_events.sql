-- Security events (store.Events, docs/EVENTS.md): never a token or a
-- secret. Each row is kept until expires_at (its time plus
-- events.retention), when DeleteExpired sweeps it. Listed newest first, by
-- time and by type.
CREATE TABLE security_events (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	at          INTEGER NOT NULL,
	type        TEXT    NOT NULL,
	severity    TEXT    NOT NULL,
	instance    TEXT    NOT NULL,
	client_id   TEXT    NOT NULL,
	subject     TEXT    NOT NULL,
	jkt         TEXT    NOT NULL,
	family_id   TEXT    NOT NULL,
	client_addr TEXT    NOT NULL,
	route       TEXT    NOT NULL,
	reason      TEXT    NOT NULL,
	expires_at  INTEGER NOT NULL
);
CREATE INDEX security_events_at ON security_events (at);
CREATE INDEX security_events_type_at ON security_events (type, at);
CREATE INDEX security_events_expires_at ON security_events (expires_at);
