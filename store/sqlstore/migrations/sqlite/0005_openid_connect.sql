-- OpenID Connect (docs/OIDC.md). Clients gain their OIDC registration
-- metadata (docs/CONFIG.md clients[]); users their standard claims as a
-- JSON object (store.UserClaims); codes and families what their ID tokens
-- carry (store.OIDC). A family names its login session's sid, so that a
-- logout finds the session's grants (store.Families.ListFamiliesBySID).
-- Rows from before this migration get the defaults: ES256 ID tokens,
-- public subjects, no claims, no session.
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN userinfo_signed_response_alg TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN subject_type TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN sector_identifier_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN logout_revokes_grants INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN default_max_age INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN claims TEXT NOT NULL DEFAULT '{}';
ALTER TABLE auth_codes ADD COLUMN nonce TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN acr TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
ALTER TABLE auth_codes ADD COLUMN sid TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN claims_request TEXT NOT NULL DEFAULT '';
ALTER TABLE families ADD COLUMN acr TEXT NOT NULL DEFAULT '';
ALTER TABLE families ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
ALTER TABLE families ADD COLUMN sid TEXT NOT NULL DEFAULT '';
ALTER TABLE families ADD COLUMN claims_request TEXT NOT NULL DEFAULT '';
CREATE INDEX families_sid ON families (sid);
