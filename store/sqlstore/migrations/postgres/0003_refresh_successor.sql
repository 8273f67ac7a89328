-- A rotated refresh token names its successor, so a re-presentation within
-- tokens.refresh_token_reuse_grace can replace an unused successor
-- (store.Families.RotateRefreshTokenGrace). NULL: not rotated, rotated
-- before this migration, or superseded by a grace re-issue.
ALTER TABLE refresh_tokens ADD COLUMN successor_hash BYTEA;
