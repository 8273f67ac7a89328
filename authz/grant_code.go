package authz

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// grantCode exchanges an authorization code (RFC 6749 §4.1.3, OAuth 2.1
// §4.1.3). The code must be live, issued to this client for this
// redirect_uri, and the code_verifier must match its S256 challenge; a
// code bound with dpop_jkt needs a proof with that key (RFC 9449 §10). A
// second redemption fails and revokes the family the first one created,
// with every token descending from it (RFC 9700 §4.5).
func (s *Server) grantCode(r *http.Request, form url.Values, c *client) (*tokenResponse, error) {
	ctx := r.Context()
	if err := checkGrantAllowed(c, oauth.GrantAuthorizationCode); err != nil {
		return nil, err
	}
	raw, verifier := form.Get("code"), form.Get("code_verifier")
	if raw == "" {
		return nil, oauth.New(oauth.InvalidRequest, "code is missing")
	}
	if verifier == "" {
		return nil, oauth.New(oauth.InvalidRequest, "code_verifier is missing: PKCE is required")
	}
	hash := hashToken(raw)
	now := s.now()
	code, err := s.loadCode(r, c, hash, now)
	if err != nil {
		return nil, err
	}
	if err := checkCode(code, c, form.Get("redirect_uri"), verifier); err != nil {
		return nil, err
	}
	aud, err := narrowAudience(form["resource"], code.Resources, c)
	if err != nil {
		return nil, err
	}
	b, err := s.proveSender(ctx, r, c, code.DPoPJKT, "")
	if err != nil {
		return nil, err
	}
	fam, rt, rtValue := s.codeFamily(code, c, b, now)
	if err := s.redeemCode(ctx, c, hash, fam, rt, now); err != nil {
		return nil, err
	}
	resp, err := s.issue(c, code.Subject, code.Scope, aud, b, fam.ID, code.AuthTime)
	if err != nil {
		return nil, err
	}
	resp.RefreshToken = rtValue
	// OIDC Core §3.1.3.3: an ID token when openid was granted.
	if hasScope(code.Scope, oauth.ScopeOpenID) {
		in := idTokenInput{subject: code.Subject, scope: code.Scope, authTime: code.AuthTime, oidc: &code.OIDC, accessToken: resp.AccessToken}
		if resp.IDToken, err = s.idToken(ctx, c, in); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// loadCode reads the code by its hash. A used code presented by its own
// client revokes what was issued from it (RFC 6749 §4.1.2); presented
// by another client it revokes nothing.
func (s *Server) loadCode(r *http.Request, c *client, hash []byte, now time.Time) (*store.AuthCode, error) {
	code, err := s.st.GetCode(r.Context(), hash, now)
	switch {
	case errors.Is(err, store.ErrAlreadyUsed) && code != nil && code.ClientID != c.ID:
		// Another client cannot have redeemed it (OAuth 2.1 §4.1.3), so
		// the tokens issued from it are safe: no revocation, which would
		// let any client that saw a used code end another client's grant.
		s.log.Warn("authz: used authorization code presented by another client", "client_id", c.ID, "code_client_id", code.ClientID)
		return nil, oauth.New(oauth.InvalidGrant, "the authorization code is invalid or expired")
	case errors.Is(err, store.ErrAlreadyUsed):
		if err := s.revokeReplayedCode(r, c, code); err != nil {
			return nil, err
		}
		return nil, oauth.New(oauth.InvalidGrant, "the authorization code was already used; the tokens issued from it are revoked")
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return nil, oauth.New(oauth.InvalidGrant, "the authorization code is invalid or expired")
	case err != nil:
		return nil, oauth.Wrap(err, "cannot read the code")
	}
	return code, nil
}

// checkCode checks the code against the request: OAuth 2.1 §4.1.3, the
// code must be the authenticated client's (checked before RedeemCode, so
// a code presented by another client is refused without being used up:
// its owner can still redeem it); the redirect_uri of the authorization
// request; the PKCE verifier (RFC 7636 §4.6).
func checkCode(code *store.AuthCode, c *client, redirectURI, verifier string) error {
	if code.ClientID != c.ID {
		return oauth.New(oauth.InvalidGrant, "the authorization code was issued to another client")
	}
	if redirectURI != code.RedirectURI {
		return oauth.New(oauth.InvalidGrant, "redirect_uri does not match the authorization request")
	}
	if err := pkce.Verify(verifier, code.CodeChallenge); err != nil {
		return oauth.New(oauth.InvalidGrant, "code_verifier does not match the code_challenge")
	}
	return nil
}

// codeFamily is the grant a code starts, with its first refresh token
// (nil, "" when the client has no refresh grant).
func (s *Server) codeFamily(code *store.AuthCode, c *client, b binding, now time.Time) (*store.Family, *store.RefreshToken, string) {
	fam := &store.Family{
		ID:        randomToken(16),
		ClientID:  c.ID,
		Subject:   code.Subject,
		Scope:     code.Scope,
		Resources: code.Resources,
		AuthTime:  code.AuthTime,
		OIDC:      code.OIDC,
		CreatedAt: now,
		ExpiresAt: now.Add(s.familyLifetime()),
	}
	fam.Nonce = "" // refreshed ID tokens carry no nonce (OIDC Core §12.2)
	if c.Public() {
		// RFC 9449 §5: a public client's refresh tokens are bound to its
		// key; RFC 8705 §4: or to its certificate.
		fam.JKT, fam.CertThumbprint = b.jkt, b.x5t
	}
	if !c.allowsGrant(oauth.GrantRefreshToken) {
		return fam, nil, ""
	}
	rtValue := randomToken(32)
	return fam, s.newRefreshToken(rtValue, fam.ID, fam.Scope, now, fam.ExpiresAt, s.rotatesRefresh(c)), rtValue
}

// redeemCode spends the code and stores its family in one step; a code
// spent meanwhile (a race of two redemptions) revokes what it issued.
func (s *Server) redeemCode(ctx context.Context, c *client, hash []byte, fam *store.Family, rt *store.RefreshToken, now time.Time) error {
	err := s.st.RedeemCode(ctx, hash, fam, rt, now)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrAlreadyUsed):
		s.log.Warn("authz: authorization code replayed; tokens issued from it revoked", "client_id", c.ID)
		return oauth.New(oauth.InvalidGrant, "the authorization code was already used; the tokens issued from it are revoked")
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return oauth.New(oauth.InvalidGrant, "the authorization code is invalid or expired")
	}
	return oauth.Wrap(err, "cannot redeem the code")
}

// revokeReplayedCode revokes the family of a code presented again. The
// store's RedeemCode does the same atomically when two redemptions race;
// this covers the replay that comes after the first redemption committed.
// A revocation that fails is the answer (503 when the store is down), not
// an invalid_grant that claims a revocation that did not happen: the
// client's retry revokes.
func (s *Server) revokeReplayedCode(r *http.Request, c *client, code *store.AuthCode) error {
	if code == nil || code.FamilyID == "" {
		return nil
	}
	s.log.Warn("authz: authorization code replayed; revoking the tokens issued from it",
		"client_id", c.ID, "code_client_id", code.ClientID, "family_id", code.FamilyID)
	s.emit(r, secevent.Event{Type: secevent.CodeReplayed, ClientID: c.ID, Subject: code.Subject,
		FamilyID: code.FamilyID, Reason: "code_reuse"})
	if err := s.st.RevokeFamily(r.Context(), code.FamilyID, "code_reuse", s.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("authz: revoking the family of a replayed code", "family_id", code.FamilyID, "err", err)
		return oauth.Wrap(err, "cannot revoke the tokens issued from a replayed code")
	}
	return nil
}
