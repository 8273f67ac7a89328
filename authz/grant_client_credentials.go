package authz

import (
	"net/http"
	"net/url"

	"github.com/wardauth/ward/oauth"
)

// grantClientCredentials issues a token to a confidential client acting on
// its own behalf (RFC 6749 §4.4). It reads the client from the in-memory
// cache, verifies one DPoP proof and signs one JWT: no database write, so
// it scales with CPU alone. No refresh token is issued (RFC 6749 §4.4.3).
func (s *Server) grantClientCredentials(r *http.Request, form url.Values, c *client) (*tokenResponse, error) {
	if c.Public() {
		return nil, oauth.New(oauth.UnauthorizedClient, "public clients may not use the client_credentials grant")
	}
	if err := checkGrantAllowed(c, oauth.GrantClientCredentials); err != nil {
		return nil, err
	}
	scope, err := scopeSubset(form.Get("scope"), c.Scopes)
	if err != nil {
		return nil, err
	}
	aud, err := resources(form["resource"], c.Audiences, defaultAudience(c))
	if err != nil {
		return nil, err
	}
	b, err := s.proveSender(r.Context(), r, c, "", "")
	if err != nil {
		return nil, err
	}
	return s.issue(c, c.ID, scope, aud, b, "", timeZero)
}
