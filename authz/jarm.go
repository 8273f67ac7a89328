package authz

import (
	"context"
	"net/url"
	"time"

	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/oauth"
)

// This file is JWT Secured Authorization Response Mode (JARM, OpenID
// final): a client that asks for response_mode=query.jwt (or jwt, which
// is query.jwt for response_type=code, JARM §2.3.4) gets its
// authorization response, success or error, as one signed JWT in the
// response query parameter of its redirect URI (§2.3.1), carrying iss,
// aud and exp (§2.1) and the parameters a plain response would have.

// Response modes (OAuth 2.0 Multiple Response Type Encoding Practices
// §2.1, JARM §2.3).
const (
	responseModeQuery    = "query"
	responseModeQueryJWT = "query.jwt"
	responseModeJWT      = "jwt"
)

// responseModesSupported are the response modes Ward answers, as its
// metadata advertises them (JARM §4). fragment.jwt and form_post.jwt are
// refused: Ward has no fragment or form_post responses at all (the code
// flow answers in the query, OAuth 2.1 §4.1.2).
var responseModesSupported = []string{responseModeQuery, responseModeQueryJWT, responseModeJWT}

// jarmTTL is the lifetime of a response JWT: the maximum JARM §2.1
// recommends. The code inside expires long before (issueCode: 60 s); an
// error response, and the login page's cancel link, which is signed when
// the page is rendered, live this long.
const jarmTTL = 10 * time.Minute

// parseResponseMode returns the response mode a request asks for,
// normalised: "" for the plain query response, responseModeQueryJWT for
// JARM (jwt is its default for the code flow, JARM §2.3.4).
func parseResponseMode(rm string) (string, *oauth.Error) {
	switch rm {
	case "", responseModeQuery:
		return "", nil
	case responseModeQueryJWT, responseModeJWT:
		return responseModeQueryJWT, nil
	}
	return "", oauth.New(oauth.InvalidRequest,
		"response_mode %q is not supported: the code flow answers in the query, as query, query.jwt or jwt (JARM)", clip(rm, 40))
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// jarmClaims is the payload of a response JWT (JARM §2.1): iss, aud and
// exp, then the response parameters — code and state, or error,
// error_description and state (§2.2 for errors). iss travels in the JWT,
// not beside it (RFC 9207 §2.4: the JWT's iss is the issuer
// identification).
type jarmClaims struct {
	Issuer           string `json:"iss"`
	Audience         string `json:"aud"`
	Expiry           int64  `json:"exp"`
	Code             string `json:"code,omitempty"`
	State            string `json:"state,omitempty"`
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// responseURL is where an authorization response goes: the redirect URI
// with params (which carry iss), or, when the request asked for JARM,
// with the one parameter response holding them signed (JARM §2.3.1).
func (s *Server) responseURL(ctx context.Context, req *authRequest, params url.Values) (string, error) {
	if req.ResponseMode != responseModeQueryJWT {
		return appendParams(req.RedirectURI, params), nil
	}
	jwt, err := s.signAuthorizationResponse(ctx, req.ClientID, params)
	if err != nil {
		return "", err
	}
	return appendParams(req.RedirectURI, url.Values{"response": {jwt}}), nil
}

// signAuthorizationResponse signs the response parameters for clientID
// with the algorithm it registered (authorization_signed_response_alg,
// JARM §3; the primary key when none). typ is JWT: JARM registers no
// explicit type.
func (s *Server) signAuthorizationResponse(ctx context.Context, clientID string, params url.Values) (string, error) {
	c, err := s.clients.get(ctx, clientID)
	if err != nil {
		return "", oauth.Wrap(err, "cannot read the client")
	}
	k, err := s.messageSigner(ctx, c, "authorization_signed_response_alg", c.AuthorizationSignedResponseAlg)
	if err != nil {
		return "", err
	}
	claims := jarmClaims{
		Issuer: s.issuer, Audience: c.ID, Expiry: s.now().Add(jarmTTL).Unix(),
		Code: params.Get("code"), State: params.Get("state"),
		Error: params.Get("error"), ErrorDescription: params.Get("error_description"),
	}
	jwt, err := signJWT(k, "JWT", claims)
	if err != nil {
		return "", oauth.Wrap(err, "cannot sign the authorization response")
	}
	return jwt, nil
}

// messageSigner is the key of the algorithm a client registered for a
// signed response (what names the metadata): the primary key, or the
// RS256 chain the ID tokens use (idtoken.go keyForAlg).
func (s *Server) messageSigner(ctx context.Context, c *client, what, alg string) (*keys.SigningKey, error) {
	k, err := s.keyForAlg(ctx, c.ID, what, alg)
	if err != nil {
		return nil, oauth.Wrap(err, "the server has no key for the client's %s", what)
	}
	return k, nil
}
