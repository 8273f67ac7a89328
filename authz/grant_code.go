package authz

import (
	"errors"
	"net/http"
	"net/url"

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
	raw := form.Get("code")
	if raw == "" {
		return nil, oauth.New(oauth.InvalidRequest, "code is missing")
	}
	verifier := form.Get("code_verifier")
	if verifier == "" {
		return nil, oauth.New(oauth.InvalidRequest, "code_verifier is missing: PKCE is required")
	}
	hash := hashToken(raw)
	now := s.now()
	code, err := s.st.GetCode(ctx, hash, now)
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
	// OAuth 2.1 §4.1.3: the code must be the authenticated client's. The
	// check comes before RedeemCode, so a code presented by another client
	// is refused without being used up: its owner can still redeem it.
	if code.ClientID != c.ID {
		return nil, oauth.New(oauth.InvalidGrant, "the authorization code was issued to another client")
	}
	if form.Get("redirect_uri") != code.RedirectURI {
		return nil, oauth.New(oauth.InvalidGrant, "redirect_uri does not match the authorization request")
	}
	if err := pkce.Verify(verifier, code.CodeChallenge); err != nil {
		return nil, oauth.New(oauth.InvalidGrant, "code_verifier does not match the code_challenge")
	}
	aud, err := narrowAudience(form["resource"], code.Resources, c)
	if err != nil {
		return nil, err
	}
	b, err := s.proveSender(ctx, r, c, code.DPoPJKT, "")
	if err != nil {
		return nil, err
	}
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
	var rt *store.RefreshToken
	var rtValue string
	if c.allowsGrant(oauth.GrantRefreshToken) {
		rtValue = randomToken(32)
		rt = s.newRefreshToken(rtValue, fam.ID, fam.Scope, now, fam.ExpiresAt)
	}
	if err := s.st.RedeemCode(ctx, hash, fam, rt, now); err != nil {
		switch {
		case errors.Is(err, store.ErrAlreadyUsed):
			s.log.Warn("authz: authorization code replayed; tokens issued from it revoked", "client_id", c.ID)
			return nil, oauth.New(oauth.InvalidGrant, "the authorization code was already used; the tokens issued from it are revoked")
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
			return nil, oauth.New(oauth.InvalidGrant, "the authorization code is invalid or expired")
		}
		return nil, oauth.Wrap(err, "cannot redeem the code")
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
