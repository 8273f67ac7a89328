-- The admin console's event filters (docs/CONSOLE.md): events of one
-- client or one end user, newest first, without scanning the table.
CREATE INDEX security_events_client_at ON security_events (client_id, at);
CREATE INDEX security_events_subject_at ON security_events (subject, at);
