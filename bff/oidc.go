package bff

import (
	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/oauth"
)

// idTokenClaims is the claims request (OIDC Core §5.5) of a site's login:
// the names /bff/user shows, in the ID token itself, so that the login
// needs no UserInfo call.
const idTokenClaims = `{"id_token":{"name":null,"preferred_username":null,"email":null}}`

// oidc reports whether the site logs users in with OpenID Connect: its
// scopes include openid. Its logins then send a nonce and require an ID
// token that client.IDTokenVerifier accepts, and its logouts go through
// the issuer's end_session_endpoint.
func (s *Site) oidc() bool {
	for _, sc := range s.cfg.Scopes {
		if sc == oauth.ScopeOpenID {
			return true
		}
	}
	return false
}

// endSession returns where the browser goes after a logout: the issuer's
// end_session_endpoint (RP-Initiated Logout 1.0 §2) with the session's ID
// token as id_token_hint, the site's after_logout page as
// post_logout_redirect_uri (to register for the client) and a fresh
// state; "" when the site is not OpenID Connect, the session has no ID
// token, or the issuer advertises no end_session_endpoint.
func (s *Site) endSession(ep client.Endpoint, sess *session) string {
	if !s.oidc() || sess.IDToken == "" || ep.EndSessionURL == "" {
		return ""
	}
	state, err := newID()
	if err != nil {
		return ""
	}
	return client.BuildEndSessionURL(ep.EndSessionURL, s.cfg.ClientID, sess.IDToken, s.PostLogoutRedirectURI(), state)
}

// PostLogoutRedirectURI is where the issuer sends the browser back after
// an RP-initiated logout: public_url followed by after_logout. It must be
// registered as one of the client's post_logout_redirect_uris.
func (s *Site) PostLogoutRedirectURI() string { return s.origin + s.cfg.AfterLogout }
