package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

// ErrNoEndpoint: the server's metadata does not name the endpoint a call
// needs.
var ErrNoEndpoint = errors.New("client: the authorization server has no such endpoint")

// Revoke asks the server to revoke token (RFC 7009 §2.1); hint is
// "refresh_token", "access_token" or empty. Revoking a refresh token at
// Ward revokes its whole grant: every refresh and access token of the
// family. A 200 answer means the token is no longer usable or was never
// valid (§2.2); anything else is a *RetrieveError.
func (c *Client) Revoke(ctx context.Context, token, hint string) error {
	if c.ep.RevocationURL == "" {
		return ErrNoEndpoint
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return c.postForm(ctx, c.ep.RevocationURL, form, http.StatusOK, nil)
}

// Introspection is the part of an RFC 7662 §2.2 answer a client reads.
type Introspection struct {
	Active   bool   `json:"active"`
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
	Subject  string `json:"sub"`
	// Username is the user's login name, when the server tells it (RFC
	// 7662 §2.2; Ward does to the token's own client).
	Username  string `json:"username,omitempty"`
	Expiry    int64  `json:"exp"`
	TokenType string `json:"token_type"`
}

// Introspect asks the server about token (RFC 7662 §2.1). Only
// confidential clients may call it at Ward; a confidential client uses it
// on its own tokens, for example to learn whether a refresh token's grant
// is still alive.
func (c *Client) Introspect(ctx context.Context, token, hint string) (*Introspection, error) {
	if c.ep.IntrospectionURL == "" {
		return nil, ErrNoEndpoint
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	var out Introspection
	if err := c.postForm(ctx, c.ep.IntrospectionURL, form, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
