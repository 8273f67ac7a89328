package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardauth/ward/oauth"
)

// DeviceAuthorization is the answer of the device authorization endpoint
// (RFC 8628 §3.2): what to show the user, and the device_code to poll
// with.
type DeviceAuthorization struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// ErrNoDeviceEndpoint: the server advertises no
// device_authorization_endpoint.
var ErrNoDeviceEndpoint = errors.New("client: the authorization server has no device authorization endpoint")

// DeviceAuthorize starts the device authorization grant (RFC 8628 §3.1)
// with the client's scopes and resources. The request carries a DPoP
// proof and dpop_jkt (unless the client binds to a certificate), so the
// server fixes the key of the tokens now: a device_code stolen from here
// on cannot be redeemed with any other key.
func (c *Client) DeviceAuthorize(ctx context.Context) (*DeviceAuthorization, error) {
	if c.ep.DeviceAuthorizationURL == "" {
		return nil, ErrNoDeviceEndpoint
	}
	form := url.Values{}
	if len(c.o.scopes) > 0 {
		form.Set("scope", strings.Join(c.o.scopes, " "))
	}
	for _, r := range c.o.resources {
		form.Add("resource", r)
	}
	if !c.o.certBound {
		form.Set("dpop_jkt", c.Thumbprint())
	}
	var da DeviceAuthorization
	if err := c.postForm(ctx, c.ep.DeviceAuthorizationURL, form, 200, &da); err != nil {
		return nil, err
	}
	if da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
		return nil, fmt.Errorf("%w: device authorization response without device_code, user_code or verification_uri", ErrBadResponse)
	}
	return &da, nil
}

// PollDeviceToken polls the token endpoint with da's device_code (RFC
// 8628 §3.4) every interval (5 s when the server gave none), 5 s slower
// after each slow_down (§3.5), until the user decides, da expires or ctx
// ends. It returns the DPoP-bound (or certificate-bound) token, or the
// server's refusal as a *RetrieveError (access_denied, expired_token).
func (c *Client) PollDeviceToken(ctx context.Context, da *DeviceAuthorization) (*oauth2.Token, error) {
	interval := time.Duration(max(da.Interval, 0)) * time.Second
	if interval == 0 {
		interval = 5 * time.Second
	}
	if da.ExpiresIn > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(da.ExpiresIn)*time.Second)
		defer cancel()
	}
	form := func() url.Values {
		return url.Values{"grant_type": {string(oauth.GrantDeviceCode)}, "device_code": {da.DeviceCode}}
	}
	for {
		tok, err := c.token(ctx, form())
		var re *RetrieveError
		switch {
		case err == nil:
			return tok, nil
		case errors.As(err, &re) && re.ErrorCode == oauth.AuthorizationPending:
		case errors.As(err, &re) && re.ErrorCode == oauth.SlowDown:
			interval += 5 * time.Second
		default:
			return nil, err
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("client: waiting for the user to approve the device: %w", ctx.Err())
		case <-t.C:
		}
	}
}
