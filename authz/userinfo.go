package authz

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// This file is the UserInfo endpoint (OIDC Core §5.3): an OAuth protected
// resource of the authorization server itself, which answers the claims
// about the user an access token with the openid scope was granted.
// The request is read (userInfoRequest), the token verified as
// /introspect verifies Ward's own tokens (parseAccessToken, revocation,
// family), its sender constraint proven (RFC 9449 §7, RFC 8705 §3), and
// the claims chosen by scope and claims request (userInfoClaims).

// Schemes of a UserInfo request's credentials.
const (
	schemeDPoP   = "DPoP"
	schemeBearer = "Bearer"
	// schemeBody: the form-encoded body parameter access_token (RFC 6750
	// §2.2), for tokens that are not DPoP-bound.
	schemeBody = "body"
)

// userInfoCreds are the credentials of a UserInfo request.
type userInfoCreds struct {
	scheme string // schemeDPoP, schemeBearer or schemeBody
	token  string
}

// noCredentials is RFC 6750 §3.1's answer to a request without a token:
// 401 with the challenges and no error code.
func noCredentials() *oauth.Error { return &oauth.Error{Status: http.StatusUnauthorized} }

// parseUserInfoRequest finds the one access token of a UserInfo request
// (RFC 6750 §2, RFC 9449 §7.1): in the Authorization header (DPoP or
// Bearer scheme) or, in a POST, as the access_token form parameter;
// never in the query (RFC 9700 §2.3 / OAuth 2.1), never two of them.
// form is nil when the request has no form body.
func parseUserInfoRequest(query string, authz []string, form map[string][]string) (userInfoCreds, error) {
	if strings.Contains(query, "access_token") {
		if q, err := parseParams(query); err != nil || q.Has("access_token") {
			return userInfoCreds{}, oauth.New(oauth.InvalidRequest, "access tokens are never accepted in the URL")
		}
	}
	body := form["access_token"]
	if len(authz) > 1 || len(body) > 1 || len(authz) == 1 && len(body) == 1 {
		return userInfoCreds{}, oauth.New(oauth.InvalidRequest, "send exactly one access token, by one method (RFC 6750 §2)")
	}
	if len(body) == 1 {
		if !token68(body[0]) {
			return userInfoCreds{}, oauth.New(oauth.InvalidRequest, "the access_token parameter does not hold a token")
		}
		return userInfoCreds{scheme: schemeBody, token: body[0]}, nil
	}
	if len(authz) == 0 {
		return userInfoCreds{}, noCredentials()
	}
	s, t, _ := strings.Cut(authz[0], " ")
	t = strings.TrimLeft(t, " ")
	var c userInfoCreds
	switch {
	case strings.EqualFold(s, schemeDPoP):
		c.scheme = schemeDPoP
	case strings.EqualFold(s, schemeBearer):
		c.scheme = schemeBearer
	default:
		return userInfoCreds{}, noCredentials()
	}
	if !token68(t) {
		return userInfoCreds{}, oauth.New(oauth.InvalidRequest, "the Authorization header does not hold a token (RFC 6750 §2.1 b64token)")
	}
	c.token = t
	return c, nil
}

// token68 reports whether s is a b64token (RFC 6750 §2.1).
func token68(s string) bool {
	s = strings.TrimRight(s, "=")
	if s == "" || len(s) > 8<<10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

// handleUserInfo is the UserInfo endpoint, GET and POST (OIDC Core
// §5.3.1): parse → verify the token → prove the sender → choose the
// claims → answer JSON or a signed JWT (§5.3.2).
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		s.writeUserInfoError(w, r, "", &oauth.Error{Code: oauth.InvalidRequest, Description: "use GET or POST", Status: http.StatusMethodNotAllowed})
		return
	}
	creds, err := s.readUserInfoRequest(w, r)
	if err != nil {
		s.writeUserInfoError(w, r, "", err)
		return
	}
	g, err := s.userInfoGrant(r, creds)
	if err != nil {
		s.writeUserInfoError(w, r, creds.scheme, err)
		return
	}
	claims, err := s.userInfoClaims(r.Context(), g)
	if err != nil {
		s.writeUserInfoError(w, r, creds.scheme, err)
		return
	}
	if err := s.writeUserInfo(w, g.client, claims); err != nil {
		s.writeUserInfoError(w, r, creds.scheme, err)
		return
	}
	s.metrics.userInfo(userInfoOK)
}

// readUserInfoRequest reads a POST's form body, if any, and parses the
// request's credentials.
func (s *Server) readUserInfoRequest(w http.ResponseWriter, r *http.Request) (userInfoCreds, error) {
	var form map[string][]string
	if r.Method == http.MethodPost {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			f, err := readForm(w, r)
			if err != nil {
				return userInfoCreds{}, err
			}
			form = f
		} else {
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxFormBytes))
		}
	}
	return parseUserInfoRequest(r.URL.RawQuery, r.Header.Values("Authorization"), form)
}

// userInfoGrant is what a verified UserInfo access token grants.
type userInfoGrant struct {
	at     *atClaims
	fam    *store.Family
	client *client
}

func invalidToken(desc string) *oauth.Error { return oauth.New(oauth.InvalidToken, "%s", desc) }

// userInfoGrant verifies the access token (an access token of this
// server, unexpired, not revoked, from a live grant), its sender
// constraint and its openid scope.
func (s *Server) userInfoGrant(r *http.Request, creds userInfoCreds) (*userInfoGrant, error) {
	ctx, now := r.Context(), s.now()
	// Ward's own verification: signature by a published key with the
	// ES256/EdDSA allow-list, typ at+jwt (an ID token is refused), iss.
	at, err := s.parseAccessToken(creds.token, now)
	if err != nil {
		return nil, invalidToken("not an access token of this server")
	}
	if !now.Before(time.Unix(at.Expiry, 0)) {
		return nil, invalidToken("the access token has expired")
	}
	revoked, err := s.st.AccessTokenRevoked(ctx, at.JTI)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, invalidToken("the access token was revoked")
	}
	if at.GrantID == "" {
		return nil, invalidToken("the access token was not issued for a user (client_credentials)")
	}
	fam, err := s.st.GetFamily(ctx, at.GrantID)
	if errors.Is(err, store.ErrNotFound) || err == nil && fam.Revoked() {
		return nil, invalidToken("the grant of the access token was revoked")
	}
	if err != nil {
		return nil, err
	}
	if err := s.proveUserInfoSender(r, creds, at); err != nil {
		return nil, err
	}
	if !slices.Contains(strings.Fields(at.Scope), oauth.ScopeOpenID) {
		e := oauth.New(oauth.InsufficientScope, "the access token was not granted the openid scope (OIDC Core §5.3)")
		e.Scope = oauth.ScopeOpenID
		return nil, e
	}
	c, err := s.clients.get(ctx, at.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidToken("the client of the access token no longer exists")
	}
	if err != nil {
		return nil, err
	}
	return &userInfoGrant{at: at, fam: fam, client: c}, nil
}

// proveUserInfoSender enforces the token's sender constraint: a
// DPoP-bound token only with the DPoP scheme and a proof for this
// request — htm, htu the UserInfo URL, ath, the bound key, replay and
// nonce (RFC 9449 §7.1, §7.2: never as Bearer, never in the body); a
// certificate-bound token only over a connection presenting the same
// certificate (RFC 8705 §3); the DPoP scheme only for DPoP-bound tokens.
func (s *Server) proveUserInfoSender(r *http.Request, creds userInfoCreds, at *atClaims) error {
	var jkt, x5t string
	if at.Cnf != nil {
		jkt, x5t = at.Cnf.JKT, at.Cnf.X5TS256
	}
	switch {
	case jkt != "" && creds.scheme != schemeDPoP:
		return invalidToken("the access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof (RFC 9449 §7.2)")
	case jkt == "" && creds.scheme == schemeDPoP:
		return invalidToken("the DPoP scheme needs a DPoP-bound access token (cnf.jkt)")
	}
	if x5t != "" {
		thumb := s.presentedThumbprint(r)
		if thumb == "" || subtle.ConstantTimeCompare([]byte(thumb), []byte(x5t)) != 1 {
			return invalidToken("the access token is bound to a client certificate: present the same certificate over mTLS (RFC 8705 §3)")
		}
	}
	if jkt == "" {
		return nil
	}
	_, err := s.dpop.Verify(r.Context(), dpop.Request{
		Proofs: r.Header.Values("DPoP"), Method: r.Method, URL: s.url(PathUserInfo), AccessToken: creds.token, JKT: jkt,
	})
	if err != nil {
		s.metrics.dpopRejected(dpopReason(err))
		return dpop.ProtocolError(err, http.StatusUnauthorized) // RFC 9449 §7.1
	}
	return nil
}

// writeUserInfo answers the claims as JSON, or as a JWT signed for the
// client when it registered userinfo_signed_response_alg (OIDC Core
// §5.3.2): iss and aud added, no exp, typ JWT.
func (s *Server) writeUserInfo(w http.ResponseWriter, c *client, claims map[string]any) error {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if c.UserinfoSignedResponseAlg == "" {
		h.Set("Content-Type", "application/json")
		return json.NewEncoder(w).Encode(claims)
	}
	k, err := s.userInfoSigner(c.UserinfoSignedResponseAlg)
	if err != nil {
		return err
	}
	claims["iss"], claims["aud"] = s.issuer, c.ID
	jwt, err := signJWT(k, "JWT", claims)
	if err != nil {
		return oauth.Wrap(err, "cannot sign the UserInfo response")
	}
	h.Set("Content-Type", "application/jwt")
	_, err = io.WriteString(w, jwt)
	return err
}

// userInfoSigner is the current signing key when its algorithm is the
// one the client registered. RS256 needs the RSA keys of the ID token
// work; until they are present a client registered for it gets a server
// error that says so.
func (s *Server) userInfoSigner(alg string) (*keys.SigningKey, error) {
	k, err := s.km.Signer(s.now())
	if err != nil {
		return nil, oauth.Wrap(err, "no signing key")
	}
	if string(k.Algorithm) != alg {
		return nil, oauth.Wrap(fmt.Errorf("authz: no %s signing key for signed UserInfo (the current key is %s)", alg, k.Algorithm),
			"the server has no key for the client's userinfo_signed_response_alg")
	}
	return k, nil
}

// writeUserInfoError renders a refusal as a resource server does (RFC
// 6750 §3, RFC 9449 §7.1): 401/403 with DPoP and Bearer challenges,
// DPoP-Nonce when a nonce is wanted (invalid_request stays 400, RFC 6750
// §3.1); counted by code.
func (s *Server) writeUserInfoError(w http.ResponseWriter, r *http.Request, scheme string, err error) {
	e := asProtocolError(err) // a store outage is 503 with Retry-After
	if e.Status >= 500 {
		s.log.Error("authz: request failed", "path", r.URL.Path, "err", err)
	}
	s.metrics.userInfo(e.Code)
	used := schemeBearer
	if scheme == schemeDPoP {
		used = schemeDPoP
	}
	oauth.WriteChallenge(w, e, oauth.Challenge{DPoPAlgs: s.dpopAlgs, Bearer: true}, used)
}
