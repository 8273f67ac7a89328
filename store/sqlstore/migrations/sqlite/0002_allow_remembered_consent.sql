-- A public client with a loopback or private-use-scheme redirect URI shows
-- the consent page on every authorization unless this is set (RFC 8252
-- §8.6; docs/CONFIG.md clients[].allow_remembered_consent).
ALTER TABLE clients ADD COLUMN allow_remembered_consent INTEGER NOT NULL DEFAULT 0;
