-- The revocation feed (store.RevocationLog) lists revoked access tokens
-- and families by the time they were revoked. Rows revoked before this
-- migration get their expiry less the longest access-token lifetime (1 h,
-- config.MaxAccessTokenTTL): no later than their revocation, and within
-- the hour a gateway catches up from while the token is live.
ALTER TABLE revoked_access_tokens ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX revoked_access_tokens_revoked_at ON revoked_access_tokens (revoked_at);
CREATE INDEX families_revoked_at ON families (revoked_at);
UPDATE revoked_access_tokens SET revoked_at = expires_at - 3600000000000;
