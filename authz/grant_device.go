package authz

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// grantDevice is the device access token request (RFC 8628 §3.4, §3.5).
// The request must carry a DPoP proof or a client certificate, whatever
// the client's sender-constraint policy: the tokens are bound to that key,
// and the key is fixed for good by dpop_jkt at the device authorization
// endpoint or else by the first poll, so that whoever steals the
// device_code later cannot redeem it with a key of their own. Answers,
// in this order: expired_token once the code's lifetime has passed; a
// poll with another key than the fixed one is refused (invalid_dpop_proof,
// like a code bound with dpop_jkt, or invalid_grant for a certificate);
// access_denied; invalid_grant once redeemed; slow_down for a poll within
// the interval (which grows by 5 s, §3.5); authorization_pending; and the
// tokens, once.
func (s *Server) grantDevice(r *http.Request, form url.Values, c *client) (*tokenResponse, error) {
	if !s.device.Enabled {
		return nil, oauth.New(oauth.UnsupportedGrantType, "the device authorization grant is not enabled")
	}
	if err := checkGrantAllowed(c, oauth.GrantDeviceCode); err != nil {
		return nil, err
	}
	raw := form.Get("device_code")
	if raw == "" {
		return nil, oauth.New(oauth.InvalidRequest, "device_code is missing")
	}
	ctx, hash, now := r.Context(), hashToken(raw), s.now()
	g, err := s.st.GetDeviceGrant(ctx, hash, c.ID, now)
	if err != nil {
		return nil, deviceStoreError(err)
	}
	b, err := s.proveSender(ctx, r, c, g.JKT, g.CertThumbprint)
	if err != nil {
		return nil, err
	}
	if b.jkt == "" && b.x5t == "" {
		// A bearer client: a device code with no key is redeemable by
		// whoever reads it off the screen or the wire.
		return nil, oauth.New(oauth.InvalidDPoPProof, "the device grant needs a DPoP proof (or a client certificate): its tokens are bound to the key of the first poll")
	}
	g, slow, err := s.st.PollDeviceGrant(ctx, hash, c.ID, b.jkt, b.x5t, now, slowDownStep)
	if err != nil {
		return nil, s.devicePollError(r, c, err)
	}
	switch g.Status {
	case store.DeviceDenied:
		return nil, deviceError(oauth.AccessDenied, "the user denied the authorization")
	case store.DeviceRedeemed:
		return nil, oauth.New(oauth.InvalidGrant, "the device code was already used")
	case store.DeviceApproved:
		if g.JKT != b.jkt || g.CertThumbprint != b.x5t {
			// A poll that lost the race for the first binding gets the
			// grant as read before the winner bound it: never tokens
			// for a key the grant is not bound to.
			return nil, deviceError(oauth.SlowDown, "polling too fast: wait the interval, now 5 seconds longer, between requests")
		}
		return s.redeemDevice(r, c, g, b)
	}
	if slow {
		return nil, deviceError(oauth.SlowDown, "polling too fast: wait the interval, now 5 seconds longer, between requests")
	}
	return nil, deviceError(oauth.AuthorizationPending, "the user has not decided yet")
}

// deviceError is an RFC 8628 §3.5 error: 400, as every token error of
// RFC 6749 §5.2 (slow_down and access_denied have other default statuses
// elsewhere).
func deviceError(code, desc string) error {
	return &oauth.Error{Code: code, Description: desc, Status: http.StatusBadRequest}
}

// deviceStoreError maps a device grant the store did not return.
func deviceStoreError(err error) error {
	switch {
	case errors.Is(err, store.ErrExpired):
		return deviceError(oauth.ExpiredToken, "the device code has expired; start again")
	case errors.Is(err, store.ErrNotFound):
		return oauth.New(oauth.InvalidGrant, "the device code is invalid")
	}
	return oauth.Wrap(err, "cannot read the device code")
}

// devicePollError maps a poll the store refused. A key other than the
// bound one: another party polls with the stolen device code.
func (s *Server) devicePollError(r *http.Request, c *client, err error) error {
	if !errors.Is(err, store.ErrKeyMismatch) {
		return deviceStoreError(err)
	}
	s.log.Warn("authz: device code polled with another key than the one it is bound to", "client_id", c.ID)
	if len(r.Header.Values("DPoP")) == 0 {
		return oauth.New(oauth.InvalidGrant, "the device code is bound to another key or certificate")
	}
	s.metrics.dpopRejected(dpop.ReasonKeyMismatch)
	return oauth.New(oauth.InvalidDPoPProof, "the device code is bound to the key of its first poll")
}

// redeemDevice spends an approved grant and issues its tokens: a family
// as for a code (codeFamily), bound to b.
func (s *Server) redeemDevice(r *http.Request, c *client, g *store.DeviceGrant, b binding) (*tokenResponse, error) {
	ctx, now := r.Context(), s.now()
	code := &store.AuthCode{ClientID: c.ID, Subject: g.Subject, Scope: g.Scope, Resources: g.Resources, AuthTime: g.AuthTime}
	fam, rt, rtValue := s.codeFamily(code, c, b, now)
	switch err := s.st.RedeemDeviceGrant(ctx, g.Hash, fam, rt, now); {
	case errors.Is(err, store.ErrAlreadyUsed):
		return nil, oauth.New(oauth.InvalidGrant, "the device code was already used")
	case err != nil:
		return nil, deviceStoreError(err)
	}
	resp, err := s.issue(c, g.Subject, g.Scope, g.Resources, b, fam.ID, g.AuthTime)
	if err != nil {
		return nil, err
	}
	resp.RefreshToken = rtValue
	if hasScope(g.Scope, oauth.ScopeOpenID) {
		in := idTokenInput{subject: g.Subject, scope: g.Scope, authTime: g.AuthTime, oidc: &fam.OIDC, accessToken: resp.AccessToken}
		if resp.IDToken, err = s.idToken(ctx, c, in); err != nil {
			return nil, err
		}
	}
	return resp, nil
}
