package authz

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

var timeZero time.Time

func (s *Server) familyLifetime() time.Duration {
	if d := s.cfg.Tokens.FamilyLifetime; d > 0 {
		return d
	}
	return 30 * 24 * time.Hour
}

// newRefreshToken makes the stored form of a refresh token value: its
// lifetime is refresh_token_ttl, never past the family's end; a token that
// does not rotate (rotatesRefresh false, fapi.go) lives as long as its
// family.
func (s *Server) newRefreshToken(value, familyID, scope string, now, familyEnd time.Time, rotates bool) *store.RefreshToken {
	ttl := s.cfg.Tokens.RefreshTokenTTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	exp := now.Add(ttl)
	if exp.After(familyEnd) || !rotates {
		exp = familyEnd
	}
	return &store.RefreshToken{Hash: hashToken(value), FamilyID: familyID, Scope: scope, CreatedAt: now, ExpiresAt: exp}
}

// grantRefresh rotates a refresh token (RFC 6749 §6, OAuth 2.1 §4.3.1,
// RFC 9700 §4.14.2). The token must belong to the client; a token of a
// sender-constrained family needs a proof with the family's key (or its
// certificate), checked before rotation so that someone holding a stolen
// live bound token cannot even trigger reuse detection; scope may narrow
// for the access token, never widen. Presenting an already-rotated token
// revokes the whole family (the store does it atomically and, of concurrent
// presentations, lets exactly one succeed), with one exception for
// sender-constrained families: within tokens.refresh_token_reuse_grace of
// the rotation, with the family's key, while the successor is unused, the
// client lost the answer, and a fresh pair replaces the unused successor
// (rotateRefresh).
func (s *Server) grantRefresh(r *http.Request, form url.Values, c *client) (*tokenResponse, error) {
	ctx := r.Context()
	if err := checkGrantAllowed(c, oauth.GrantRefreshToken); err != nil {
		return nil, err
	}
	raw := form.Get("refresh_token")
	if raw == "" {
		return nil, oauth.New(oauth.InvalidRequest, "refresh_token is missing")
	}
	hash := hashToken(raw)
	rt, fam, err := s.st.GetRefreshToken(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.New(oauth.InvalidGrant, "the refresh token is invalid")
	}
	if err != nil {
		return nil, oauth.Wrap(err, "cannot read the refresh token")
	}
	if fam.ClientID != c.ID {
		return nil, oauth.New(oauth.InvalidGrant, "the refresh token was issued to another client")
	}
	now := s.now()
	if fam.Revoked() {
		return nil, oauth.New(oauth.InvalidGrant, "the grant was revoked")
	}
	if !now.Before(fam.ExpiresAt) {
		return nil, oauth.New(oauth.InvalidGrant, "the grant has reached its absolute lifetime; authorize again")
	}
	granted := strings.Fields(rt.Scope)
	scope := rt.Scope
	if form.Get("scope") != "" {
		if scope, err = scopeSubset(form.Get("scope"), granted); err != nil {
			return nil, err
		}
	}
	aud, err := narrowAudience(form["resource"], fam.Resources, c)
	if err != nil {
		return nil, err
	}
	b, err := s.proveSender(ctx, r, c, fam.JKT, fam.CertThumbprint)
	if err != nil {
		if !rt.RotatedAt.IsZero() && s.otherKey(r, fam, err) {
			return nil, s.reuseWithoutKey(r, c, fam, now)
		}
		return nil, err
	}
	value, err := s.nextRefresh(r, c, fam, rt, hash, now)
	if err != nil {
		return nil, err
	}
	resp, err := s.issue(c, fam.Subject, scope, aud, b, fam.ID, fam.AuthTime)
	if err != nil {
		return nil, err
	}
	resp.RefreshToken = value
	// OIDC Core §12.2: a new ID token with the original sub and
	// auth_time (and acr, amr, sid), without nonce.
	if hasScope(scope, oauth.ScopeOpenID) {
		in := idTokenInput{subject: fam.Subject, scope: scope, authTime: fam.AuthTime, oidc: &fam.OIDC, accessToken: resp.AccessToken}
		if resp.IDToken, err = s.idToken(ctx, c, in); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// nextRefresh rotates the refresh token hashed hash and returns its
// successor's value; or, for a client whose tokens do not rotate
// (rotatesRefresh, FAPI 2.0 Security Profile §5.3.2.1), checks that it is
// live and returns "": no refresh_token in the response, the client keeps
// its own (RFC 6749 §6). A token rotated before the profile was switched
// on still goes through rotateRefresh, which detects its reuse.
func (s *Server) nextRefresh(r *http.Request, c *client, fam *store.Family, rt *store.RefreshToken, hash []byte, now time.Time) (string, error) {
	if !s.rotatesRefresh(c) && rt.RotatedAt.IsZero() {
		if !now.Before(rt.ExpiresAt) {
			return "", oauth.New(oauth.InvalidGrant, "the refresh token has expired")
		}
		return "", nil
	}
	value := randomToken(32)
	next := s.newRefreshToken(value, fam.ID, rt.Scope, now, fam.ExpiresAt, true)
	if err := s.rotateRefresh(r, c, fam, hash, next, now); err != nil {
		return "", err
	}
	return value, nil
}

// reuseGrace is the grace window for fam: tokens.refresh_token_reuse_grace
// for a sender-constrained family, whose presenter has just proved the
// family's key; 0 (strict rotation) for an unbound one, where the token
// alone is the credential.
func (s *Server) reuseGrace(fam *store.Family) time.Duration {
	if fam.JKT == "" && fam.CertThumbprint == "" {
		return 0
	}
	return s.cfg.Tokens.RefreshTokenReuseGrace
}

// rotateRefresh stores next as the successor of the token hashed hash, in
// one atomic store operation that also decides reuse (revoking the family)
// or a grace re-issue, and logs and counts either.
func (s *Server) rotateRefresh(r *http.Request, c *client, fam *store.Family, hash []byte, next *store.RefreshToken, now time.Time) error {
	ctx := r.Context()
	_, reissued, err := s.st.RotateRefreshTokenGrace(ctx, hash, next, now, s.reuseGrace(fam))
	switch {
	case err == nil && reissued:
		s.metrics.refreshReuse(reuseGraceReissued)
		s.log.Info("authz: rotated refresh token presented again with the grant's key within refresh_token_reuse_grace, its successor unused: lost answer, new pair issued, unused successor invalidated",
			"client_id", c.ID, "family_id", fam.ID, "sub", fam.Subject)
		return nil
	case err == nil:
		return nil
	case errors.Is(err, store.ErrAlreadyUsed):
		s.metrics.refreshReuse(reuseFamilyRevoked)
		s.log.Warn("authz: rotated refresh token presented again, likely theft; grant revoked",
			"client_id", c.ID, "family_id", fam.ID, "sub", fam.Subject)
		s.emit(r, secevent.Event{Type: secevent.RefreshReplayed, ClientID: c.ID, Subject: fam.Subject,
			FamilyID: fam.ID, JKT: fam.JKT, Reason: "refresh_token_reused"})
		return oauth.New(oauth.InvalidGrant, "the refresh token was already used; the grant is revoked")
	case errors.Is(err, store.ErrRevoked):
		return oauth.New(oauth.InvalidGrant, "the grant was revoked")
	case errors.Is(err, store.ErrExpired):
		return oauth.New(oauth.InvalidGrant, "the refresh token or its grant has expired")
	case errors.Is(err, store.ErrNotFound):
		return oauth.New(oauth.InvalidGrant, "the refresh token is invalid")
	}
	return oauth.Wrap(err, "cannot rotate the refresh token")
}

// reuseWithoutKey revokes fam: a rotated token of a sender-constrained
// family came without the family's key, so it is not the client retrying
// but someone who stole the token (RFC 9700 §4.14.2).
func (s *Server) reuseWithoutKey(r *http.Request, c *client, fam *store.Family, now time.Time) error {
	ctx := r.Context()
	if err := s.st.RevokeFamily(ctx, fam.ID, "refresh_token_without_key", now); err != nil {
		return oauth.Wrap(err, "cannot revoke the grant")
	}
	s.metrics.refreshReuse(reuseFamilyRevoked)
	s.log.Warn("authz: rotated refresh token presented again without the grant's key, likely theft; grant revoked",
		"client_id", c.ID, "family_id", fam.ID, "sub", fam.Subject)
	s.emit(r, secevent.Event{Type: secevent.RefreshReplayed, ClientID: c.ID, Subject: fam.Subject,
		FamilyID: fam.ID, JKT: fam.JKT, Reason: "refresh_token_without_key"})
	return oauth.New(oauth.InvalidGrant, "the refresh token was already used; the grant is revoked")
}
