package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrIntrospection: the introspection endpoint failed or answered
// something unusable.
var ErrIntrospection = errors.New("resource: introspection failed")

// Introspection is an RFC 7662 §2.2 introspection response.
type Introspection struct {
	Active    bool
	Issuer    string
	Subject   string
	ClientID  string
	Scope     string
	Audience  []string
	TokenID   string
	Expiry    time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	// JKT is cnf.jkt (RFC 9449 §6.2); X5TS256 is cnf.x5t#S256 (RFC 8705).
	JKT, X5TS256 string
}

// Introspector asks the authorization server about an opaque token
// (RFC 7662). A token the server does not know is an Introspection with
// Active false, not an error.
type Introspector interface {
	Introspect(ctx context.Context, token string) (*Introspection, error)
}

var _ Introspector = (*RemoteIntrospector)(nil)

// RemoteIntrospector calls an RFC 7662 endpoint, authenticating with
// client_secret_basic (RFC 7662 §2.1).
type RemoteIntrospector struct {
	Endpoint     string
	ClientID     string
	ClientSecret string
	// Client; default a client with a 5 s timeout.
	Client *http.Client
}

// Introspect implements Introspector.
func (ri *RemoteIntrospector) Introspect(ctx context.Context, token string) (*Introspection, error) {
	client := ri.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ri.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIntrospection, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(ri.ClientID), url.QueryEscape(ri.ClientSecret)) // RFC 6749 §2.3.1
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIntrospection, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: status %d", ErrIntrospection, resp.StatusCode)
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/json" {
		return nil, fmt.Errorf("%w: content type %q", ErrIntrospection, ct)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil || len(body) > maxDocument {
		return nil, fmt.Errorf("%w: response unreadable or too large", ErrIntrospection)
	}
	var c claims
	if err := json.Unmarshal(body, &c); err != nil || c.Active == nil {
		return nil, fmt.Errorf("%w: response is not an RFC 7662 JSON object with active", ErrIntrospection)
	}
	return c.introspection()
}

func (c *claims) introspection() (*Introspection, error) {
	in := &Introspection{
		Active: *c.Active, Issuer: c.Issuer, Subject: c.Subject, ClientID: c.ClientID,
		Scope: c.Scope, Audience: c.Audience, TokenID: c.JTI,
	}
	var ok [3]bool
	in.Expiry, _, ok[0] = numericDate(c.Expiry)
	in.IssuedAt, _, ok[1] = numericDate(c.IssuedAt)
	in.NotBefore, _, ok[2] = numericDate(c.NotBefore)
	if !ok[0] || !ok[1] || !ok[2] {
		return nil, fmt.Errorf("%w: exp, iat or nbf is not a NumericDate", ErrIntrospection)
	}
	if c.Cnf != nil {
		in.JKT, in.X5TS256 = c.Cnf.JKT, c.Cnf.X5TS256
	}
	return in, nil
}
