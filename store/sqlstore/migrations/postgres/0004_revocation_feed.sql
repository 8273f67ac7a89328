-- The revocation feed (store.RevocationLog) lists revoked access tokens
-- and families by the time they were revoked. Rows revoked before this
-- migration get 0: listed to a gateway catching up from the start.
ALTER TABLE revoked_access_tokens ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX revoked_access_tokens_revoked_at ON revoked_access_tokens (revoked_at);
CREATE INDEX families_revoked_at ON families (revoked_at);
