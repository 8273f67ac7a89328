-- The client's FAPI 2.0 profile (docs/FAPI2.md): fapi2-security,
-- fapi2-message-signing, or empty when the server's profile (if any)
-- applies alone. Rows from before this migration get none.
ALTER TABLE clients ADD COLUMN profile TEXT NOT NULL DEFAULT '';
