-- The operator whose action a security event records (the admin
-- console's changes, docs/CONSOLE.md); empty for what Ward saw happen.
ALTER TABLE security_events ADD COLUMN actor TEXT NOT NULL DEFAULT '';
