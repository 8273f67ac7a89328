-- The client must send its authorization requests as signed request
-- objects (RFC 9101 §10.5 require_signed_request_object; docs/AUTHZ.md).
ALTER TABLE clients ADD COLUMN require_signed_request_object INTEGER NOT NULL DEFAULT 0;
