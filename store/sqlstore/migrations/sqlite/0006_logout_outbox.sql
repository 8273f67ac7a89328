-- Back-channel logout outbox (store.LogoutOutbox, docs/OIDC.md): one row
-- per client to notify that a session ended. A logout writes its rows
-- before it deletes the session, so a crash loses none; any instance
-- claims due rows (next_at <= now) by moving next_at to the end of a lease
-- under its claim token, and finishes or reschedules them under that
-- token. No logout token is stored: each attempt signs a fresh one.
-- sessions_subject: an administrator ends a user's sessions
-- (store.Sessions.ListSessions).
CREATE TABLE logout_outbox (
	id         TEXT    PRIMARY KEY,
	client_id  TEXT    NOT NULL,
	subject    TEXT    NOT NULL,
	sid        TEXT    NOT NULL,
	attempts   INTEGER NOT NULL,
	next_at    INTEGER NOT NULL,
	claim      TEXT    NOT NULL,
	created_at INTEGER,
	expires_at INTEGER NOT NULL
);
CREATE INDEX logout_outbox_next_at ON logout_outbox (next_at);
CREATE INDEX logout_outbox_expires_at ON logout_outbox (expires_at);
CREATE INDEX sessions_subject ON sessions (subject);
