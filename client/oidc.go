package client

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// ScopeOpenID makes an authorization request an OpenID Connect
// authentication request (OpenID Connect Core §3.1.2.1).
const ScopeOpenID = "openid"

// ErrUserInfoSubject: the UserInfo response's sub is not the ID token's
// (OpenID Connect Core §5.3.2: the response must not be used).
var ErrUserInfoSubject = errors.New("client: userinfo sub does not match the ID token's")

// idTokenKey is where a verified ID token rides in an oauth2.Token's
// extra values. A server's JSON cannot put an *IDToken there.
const idTokenKey = "ward.client/verified-id-token"

func wantsOpenID(scopes []string) bool { return contains(scopes, ScopeOpenID) }

// WithMaxAge sends max_age (OpenID Connect Core §3.1.2.1): the user must
// have authenticated within d, which the ID token's auth_time must show.
// Zero sends max_age=0, a fresh authentication.
func WithMaxAge(d time.Duration) Option {
	return clientOption(func(o *options) { d = max(d, 0); o.maxAge = &d })
}

// WithPrompt sends prompt (OpenID Connect Core §3.1.2.1), such as none
// or login.
func WithPrompt(prompt string) Option {
	return clientOption(func(o *options) { o.prompt = prompt })
}

// WithClaimsRequest sends the claims request parameter (OpenID Connect
// Core §5.5), a JSON object such as {"id_token":{"name":null}}, with an
// authentication request.
func WithClaimsRequest(claims string) Option {
	return clientOption(func(o *options) { o.claims = claims })
}

// openIDParams adds nonce, max_age and prompt to an authentication
// request when the scopes include openid.
func (c *Client) openIDParams(ar *AuthRequest, params url.Values) error {
	if !wantsOpenID(c.o.scopes) {
		return nil
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("client: nonce: %w", err)
	}
	// §3.1.2.1, §15.5.2: a fresh nonce per request binds the ID token to
	// this client session, against replay.
	ar.Nonce = base64.RawURLEncoding.EncodeToString(b[:])
	params.Set("nonce", ar.Nonce)
	if c.o.maxAge != nil {
		secs := int64(*c.o.maxAge / time.Second)
		params.Set("max_age", strconv.FormatInt(secs, 10))
		ar.MaxAge = max(time.Duration(secs)*time.Second, MaxAgeZero)
	}
	if c.o.prompt != "" {
		params.Set("prompt", c.o.prompt)
	}
	if c.o.claims != "" {
		params.Set("claims", c.o.claims)
	}
	return nil
}

// IDTokenVerifier returns the verifier of this client's ID tokens: the
// endpoint's issuer, this client's ID, the keys at Endpoint.JWKSURI
// (fetched with the client's HTTP client and cached), the client's clock,
// and the algorithms of Endpoint.IDTokenAlgs that are asymmetric
// signatures (an issuer with EdDSA keys advertises EdDSA), else
// DefaultIDTokenAlgs.
func (c *Client) IDTokenVerifier() *IDTokenVerifier {
	c.vOnce.Do(func() {
		opts := []VerifierOption{WithIDTokenClock(c.o.clock)}
		if algs := signatureAlgs(c.ep.IDTokenAlgs); len(algs) > 0 {
			opts = append(opts, WithIDTokenAlgs(algs...))
		}
		c.verifier = NewIDTokenVerifier(c.ep.Issuer, c.clientID, NewRemoteKeySet(c.ep.JWKSURI, c.o.httpClient), opts...)
	})
	return c.verifier
}

// asymmetricAlgs are the JWS algorithms an ID token may be signed with
// when the server advertises them (RFC 7518 §3.1, RFC 8037): never none,
// never HMAC, whose key the client would share.
var asymmetricAlgs = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

// signatureAlgs keeps the advertised algorithms that are asymmetric
// signatures.
func signatureAlgs(advertised []string) []string {
	var out []string
	for _, a := range advertised {
		if contains(asymmetricAlgs, a) {
			out = append(out, a)
		}
	}
	return out
}

// verifyTokenResponse requires and verifies the ID token of a token
// response.
func (c *Client) verifyTokenResponse(ctx context.Context, tok *oauth2.Token, want Expect) (*IDToken, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: openid was requested and the token response has no id_token", ErrIDToken)
	}
	if c.ep.Issuer == "" || c.ep.JWKSURI == "" {
		return nil, fmt.Errorf("%w: Endpoint.Issuer and Endpoint.JWKSURI are needed to verify it", ErrIDToken)
	}
	return c.IDTokenVerifier().Verify(ctx, raw, want)
}

// IDTokenOf returns the verified ID token that came with tok, when
// ExchangeRedirect (or AuthorizeLoopback) verified one.
func IDTokenOf(tok *oauth2.Token) (*IDToken, bool) {
	if tok == nil {
		return nil, false
	}
	idt, ok := tok.Extra(idTokenKey).(*IDToken)
	return idt, ok
}

// UserInfo calls the OpenID Connect UserInfo endpoint (Core §5.3) with
// the DPoP-bound access token tok (a fresh proof, nonces handled) and
// returns the claims, after checking that their sub is the ID token's
// (§5.3.2; ErrUserInfoSubject). A signed answer (application/jwt) is
// verified as an ID token is, less the time and nonce rules.
func (c *Client) UserInfo(ctx context.Context, tok *oauth2.Token, idt *IDToken) (map[string]any, error) {
	if c.ep.UserInfoURL == "" {
		return nil, errors.New("client: the server has no userinfo_endpoint")
	}
	if idt == nil {
		return nil, errors.New("client: UserInfo needs the verified ID token to check sub")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.ep.UserInfoURL, nil)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/jwt")
	resp, err := c.HTTPClient(oauth2.StaticTokenSource(tok)).Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: userinfo: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("client: userinfo: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: userinfo: %s %s", ErrBadResponse, resp.Status, clip(resp.Header.Get("WWW-Authenticate")))
	}
	claims, err := c.userInfoClaims(ctx, resp.Header.Get("Content-Type"), b)
	if err != nil {
		return nil, err
	}
	if sub, _ := claims["sub"].(string); sub == "" || sub != idt.Subject {
		return nil, ErrUserInfoSubject
	}
	return claims, nil
}

func (c *Client) userInfoClaims(ctx context.Context, contentType string, b []byte) (map[string]any, error) {
	var claims map[string]any
	switch mt, _, _ := mime.ParseMediaType(contentType); mt {
	case "application/json":
		if err := json.Unmarshal(b, &claims); err != nil || claims == nil {
			return nil, fmt.Errorf("%w: userinfo is not a JSON object", ErrBadResponse)
		}
	case "application/jwt":
		// §5.3.2: a signed response carries iss and aud; they are
		// checked as an ID token's are.
		v := c.IDTokenVerifier()
		payload, _, err := v.verifySignature(ctx, strings.TrimSpace(string(b)))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
			return nil, fmt.Errorf("%w: userinfo is not a JSON object", ErrBadResponse)
		}
		if iss, _ := claims["iss"].(string); iss != c.ep.Issuer {
			return nil, fmt.Errorf("%w: signed userinfo iss %q", ErrBadResponse, clip(iss))
		}
		if aud, err := audiences(mustJSON(claims["aud"])); err != nil || !contains(aud, c.clientID) {
			return nil, fmt.Errorf("%w: signed userinfo aud does not name this client", ErrBadResponse)
		}
	default:
		return nil, fmt.Errorf("%w: userinfo content type %q", ErrBadResponse, clip(contentType))
	}
	return claims, nil
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// EndSessionURL returns where to send the user's browser to log out at
// the authorization server (RP-Initiated Logout 1.0 §2): the
// end_session_endpoint with id_token_hint, client_id,
// post_logout_redirect_uri (registered for this client) and state, the
// latter two when not empty. ok is false when the server advertises no
// end_session_endpoint.
func (c *Client) EndSessionURL(idTokenHint, postLogoutRedirectURI, state string) (string, bool) {
	if c.ep.EndSessionURL == "" {
		return "", false
	}
	return BuildEndSessionURL(c.ep.EndSessionURL, c.clientID, idTokenHint, postLogoutRedirectURI, state), true
}

// BuildEndSessionURL is EndSessionURL for a given endpoint.
func BuildEndSessionURL(endpoint, clientID, idTokenHint, postLogoutRedirectURI, state string) string {
	q := url.Values{"client_id": {clientID}}
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	if postLogoutRedirectURI != "" {
		q.Set("post_logout_redirect_uri", postLogoutRedirectURI)
	}
	if state != "" {
		q.Set("state", state)
	}
	sep := "?"
	if strings.Contains(endpoint, "?") {
		sep = "&"
	}
	return endpoint + sep + q.Encode()
}
