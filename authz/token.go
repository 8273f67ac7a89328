package authz

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wardauth/ward/oauth"
)

// tokenResponse is the successful response of RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	// IDToken: OpenID Connect, when openid was granted (OIDC Core
	// §3.1.3.3, §12.2).
	IDToken string `json:"id_token,omitempty"`
	// IssuedTokenType: token exchange (RFC 8693 §2.2.1).
	IssuedTokenType string `json:"issued_token_type,omitempty"`

	// sender is what the access token is bound to (a label of
	// ward_authz_tokens_issued_total); never sent.
	sender string
}

// clientRequest starts /token and /par alike: the per-IP rate limit before
// any work, the form, client authentication, then the per-client_id limit
// once the client has proved who it is (ratelimit.go). It has answered the
// request when ok is false.
func (s *Server) clientRequest(w http.ResponseWriter, r *http.Request, endpoint string, lim endpointLimits) (form url.Values, c *client, ok bool) {
	if !s.blockedAddress(w, r, endpoint) { // block.go
		return nil, nil, false
	}
	if !s.allow(w, r, lim.ip, endpoint, s.limits.clientIP(r)) {
		return nil, nil, false
	}
	form, err := readForm(w, r)
	if err != nil {
		s.writeEndpointError(w, r, endpoint, err)
		return nil, nil, false
	}
	c, err = s.authenticateClient(r.Context(), r, form, true)
	if err != nil {
		s.writeEndpointError(w, r, endpoint, err)
		return nil, nil, false
	}
	if !s.allow(w, r, lim.client, endpoint, s.limits.clientKey(r, c)) {
		return nil, nil, false
	}
	return form, c, true
}

// handleToken is the token endpoint (RFC 6749 §3.2).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	form, c, ok := s.clientRequest(w, r, endpointToken, s.limits.token)
	if !ok {
		return
	}
	var resp *tokenResponse
	var err error
	gt := oauth.GrantType(form.Get("grant_type"))
	switch gt {
	case oauth.GrantAuthorizationCode:
		resp, err = s.grantCode(r, form, c)
	case oauth.GrantRefreshToken:
		resp, err = s.grantRefresh(r, form, c)
	case oauth.GrantClientCredentials:
		resp, err = s.grantClientCredentials(r, form, c)
	case oauth.GrantDeviceCode:
		resp, err = s.grantDevice(r, form, c) // grant_device.go
	case oauth.GrantTokenExchange:
		resp, err = s.grantTokenExchange(r, form, c)
	case "password":
		err = oauth.New(oauth.UnsupportedGrantType, "OAuth 2.1 removed the resource owner password credentials grant; use authorization_code with PKCE")
	case "":
		err = oauth.New(oauth.InvalidRequest, "grant_type is missing")
	default:
		err = oauth.New(oauth.UnsupportedGrantType, "grant_type %q is not supported", truncate(string(gt), 64))
	}
	if err != nil {
		s.writeEndpointError(w, r, endpointToken, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if s.nonces {
		// RFC 9449 §8: a fresh nonce for the client's next request.
		h.Set("DPoP-Nonce", s.dpop.Nonce())
	}
	// One buffer and an explicit Content-Length: the response is small and
	// complete, so it goes out in one write.
	b, err := json.Marshal(resp)
	if err != nil {
		s.writeEndpointError(w, r, endpointToken, oauth.Wrap(err, "cannot encode the token response"))
		return
	}
	b = append(b, '\n')
	h.Set("Content-Length", strconv.Itoa(len(b)))
	s.metrics.tokenIssued(gt, resp.sender)
	_, _ = w.Write(b)
}

// checkGrantAllowed refuses a grant the client is not registered for.
func checkGrantAllowed(c *client, grant oauth.GrantType) error {
	if !c.allowsGrant(grant) {
		return oauth.New(oauth.UnauthorizedClient, "this client may not use the %s grant", grant)
	}
	return nil
}

// scopeSubset checks that every requested scope is in allowed and returns
// the normalised request (RFC 6749 §3.3).
func scopeSubset(requested string, allowed []string) (string, error) {
	fields := strings.Fields(requested)
	seen := make(map[string]bool, len(fields))
	out := fields[:0]
	for _, f := range fields {
		if !validScopeToken(f) {
			return "", oauth.New(oauth.InvalidScope, "malformed scope")
		}
		if !contains(allowed, f) {
			return "", oauth.New(oauth.InvalidScope, "scope %q is not allowed for this client", truncate(f, 64))
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return strings.Join(out, " "), nil
}

// validScopeToken: RFC 6749 §3.3 scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x21 || b == 0x22 || b == 0x5c || b > 0x7e {
			return false
		}
	}
	return true
}

// resources checks the RFC 8707 resource parameters of a request against
// allowed and returns the audience: the requested resources, or def when
// none was requested.
func resources(requested, allowed, def []string) ([]string, error) {
	for _, r := range requested {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(r, "#") {
			return nil, oauth.New(oauth.InvalidTarget, "resource must be an absolute URI without fragment")
		}
		if !contains(allowed, r) {
			return nil, oauth.New(oauth.InvalidTarget, "resource %q is not allowed for this client", truncate(r, 128))
		}
	}
	if len(requested) > 0 {
		return requested, nil
	}
	if len(def) == 0 {
		return nil, oauth.New(oauth.InvalidTarget, "no resource was requested and the client has no default audience")
	}
	return def, nil
}

func defaultAudience(c *client) []string {
	if len(c.Audiences) == 0 {
		return nil
	}
	return c.Audiences[:1]
}

// accessTokenTTL is the client's override or the server's default.
func (s *Server) accessTokenTTL(c *client) time.Duration {
	if c.AccessTokenTTL > 0 {
		return c.AccessTokenTTL
	}
	if s.cfg.Tokens.AccessTokenTTL > 0 {
		return s.cfg.Tokens.AccessTokenTTL
	}
	return 10 * time.Minute
}

// issue signs an access token (RFC 9068) and fills the response.
func (s *Server) issue(c *client, sub, scope string, aud []string, b binding, grantID string, authTime time.Time) (*tokenResponse, error) {
	if grantID != "" {
		// A user's grant: the token carries the sub this client knows the
		// user by, pairwise for a pairwise client (subject.go; RFC 9068
		// §6, docs/DECISIONS.md).
		var err error
		if sub, err = s.subject(c.Client, sub); err != nil {
			return nil, oauth.Wrap(err, "cannot compute the subject")
		}
	}
	claims := atClaims{Subject: sub, Audience: aud, Scope: scope, GrantID: grantID}
	if !authTime.IsZero() {
		claims.AuthTime = authTime.Unix()
	}
	return s.signAccessToken(c, &claims, b, s.accessTokenTTL(c))
}

// signAccessToken fills the server's claims of an access token (iss,
// client_id, jti, iat, exp, cnf), signs it for ttl and fills the response.
func (s *Server) signAccessToken(c *client, claims *atClaims, b binding, ttl time.Duration) (*tokenResponse, error) {
	now := s.now()
	k, err := s.km.Signer(now)
	if err != nil {
		return nil, oauth.Wrap(err, "no signing key")
	}
	claims.Issuer, claims.ClientID, claims.JTI = s.issuer, c.ID, randomToken(16)
	// A preset Expiry is a ceiling the token never outlives (token
	// exchange: the subject token's exp), however late now is read.
	exp := now.Add(ttl).Unix()
	if claims.Expiry != 0 && claims.Expiry < exp {
		exp = claims.Expiry
		ttl = time.Duration(exp-now.Unix()) * time.Second
		if ttl <= 0 {
			return nil, oauth.New(oauth.InvalidRequest, "the token this one derives from has expired")
		}
	}
	claims.IssuedAt, claims.Expiry = now.Unix(), exp
	typ, sender := oauth.TokenTypeBearer, senderBearer
	if b.jkt != "" {
		claims.Cnf = &cnf{JKT: b.jkt}
		typ, sender = oauth.TokenTypeDPoP, senderDPoP
	} else if b.x5t != "" {
		// RFC 8705 §3.1: certificate-bound; token_type stays Bearer (§3).
		claims.Cnf = &cnf{X5TS256: b.x5t}
		sender = senderMTLS
	}
	at, err := signJWT(k, "at+jwt", claims)
	if err != nil {
		return nil, oauth.Wrap(err, "cannot sign the access token")
	}
	return &tokenResponse{AccessToken: at, TokenType: typ, ExpiresIn: int64(ttl / time.Second), Scope: claims.Scope, sender: sender}, nil
}

// narrowAudience is the audience of a token issued from a grant: the
// requested resources when each was granted (RFC 8707 §2.2), else every
// granted resource, else the client's default audience.
func narrowAudience(requested, granted []string, c *client) ([]string, error) {
	if len(requested) > 0 {
		return resources(requested, granted, nil)
	}
	if len(granted) > 0 {
		return granted, nil
	}
	return resources(nil, nil, defaultAudience(c))
}

// hasScope reports whether the space-separated scope holds v.
func hasScope(scope, v string) bool {
	for _, s := range strings.Fields(scope) {
		if s == v {
			return true
		}
	}
	return false
}
