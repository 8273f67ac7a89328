-- The client's logo and home page (RFC 7591 §2 logo_uri, client_uri),
-- shown on the login and consent pages; https only (docs/BRANDING.md).
ALTER TABLE clients ADD COLUMN logo_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN client_uri TEXT NOT NULL DEFAULT '';
