package authz

import (
	"errors"
	"net/http"
	"time"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// handleRevoke is the revocation endpoint (RFC 7009). A refresh token
// revokes its whole family (RFC 7009 §2.1: "SHOULD also invalidate all
// access tokens based on the same authorization grant"); an access token
// is recorded as revoked until it expires. Unknown tokens, and tokens of
// another client, get 200 with no effect (§2.2), so the endpoint is no
// oracle for token validity.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.authenticateClient(r.Context(), r, form, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tok := form.Get("token")
	if tok == "" {
		s.writeError(w, r, oauth.New(oauth.InvalidRequest, "token is missing"))
		return
	}
	if err := s.revoke(r, c, tok, form.Get("token_type_hint")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (s *Server) revoke(r *http.Request, c *client, tok, hint string) error {
	ctx := r.Context()
	now := s.now()
	tryRefresh := func() (bool, error) {
		_, fam, err := s.st.GetRefreshToken(ctx, hashToken(tok))
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, oauth.Wrap(err, "cannot read the token")
		}
		if fam.ClientID != c.ID {
			return true, nil
		}
		if err := s.st.RevokeFamily(ctx, fam.ID, "revoked_by_client", now); err != nil {
			return true, oauth.Wrap(err, "cannot revoke the grant")
		}
		return true, nil
	}
	tryAccess := func() (bool, error) {
		claims, err := s.parseAccessToken(tok, now)
		if err != nil {
			return false, nil
		}
		if claims.ClientID != c.ID {
			return true, nil
		}
		exp := time.Unix(claims.Expiry, 0)
		if !exp.After(now) {
			return true, nil
		}
		if err := s.st.RevokeAccessToken(ctx, claims.JTI, exp, now); err != nil {
			return true, oauth.Wrap(err, "cannot revoke the token")
		}
		return true, nil
	}
	first, second := tryRefresh, tryAccess
	if hint == oauth.HintAccessToken {
		first, second = tryAccess, tryRefresh
	}
	if done, err := first(); done || err != nil {
		return err
	}
	_, err := second()
	return err
}
