package authz

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// Paths of the device authorization grant (RFC 8628), served when
// device_authorization.enabled.
const (
	PathDeviceAuthorization = "/device_authorization"
	PathDevice              = "/device"
)

// slowDownStep is what each early poll adds to a device code's interval
// (RFC 8628 §3.5: "increased by 5 seconds").
const slowDownStep = 5 * time.Second

// deviceAuthorizationResponse is RFC 8628 §3.2.
type deviceAuthorizationResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// handleDeviceAuthorization is the device authorization endpoint (RFC
// 8628 §3.1). The client authenticates as at the token endpoint (a
// public client names itself with client_id, §3.1) and must be
// registered for the device_code grant. The scope and resources are
// checked now; dpop_jkt, or a DPoP proof, fixes the key of the tokens
// before any poll (as RFC 9449 §10 does for codes). The device_code is
// 256 random bits, stored hashed; the user_code is drawn anew on the rare
// collision.
func (s *Server) handleDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.writeError(w, r, &oauth.Error{Code: oauth.InvalidRequest, Description: "use POST", Status: http.StatusMethodNotAllowed})
		return
	}
	form, c, ok := s.clientRequest(w, r, endpointDevice, s.limits.token)
	if !ok {
		return
	}
	g, err := s.newDeviceGrant(r, form, c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	dc, uc, err := s.putDeviceGrant(r, g)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d := s.device
	complete := s.url(PathDevice) + "?" + url.Values{"user_code": {formatUserCode(uc)}}.Encode()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if s.nonces {
		// RFC 9449 §8: a fresh nonce for the client's first poll.
		h.Set("DPoP-Nonce", s.dpop.Nonce())
	}
	_ = json.NewEncoder(w).Encode(deviceAuthorizationResponse{
		DeviceCode: dc, UserCode: formatUserCode(uc),
		VerificationURI: s.url(PathDevice), VerificationURIComplete: complete,
		ExpiresIn: int64(d.Lifetime / time.Second), Interval: int64(d.Interval / time.Second),
	})
}

// newDeviceGrant validates a device authorization request into a grant
// without its codes.
func (s *Server) newDeviceGrant(r *http.Request, form url.Values, c *client) (*store.DeviceGrant, error) {
	if err := checkGrantAllowed(c, oauth.GrantDeviceCode); err != nil {
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
	jkt := form.Get("dpop_jkt")
	if jkt != "" && !validJKT(jkt) {
		return nil, oauth.New(oauth.InvalidRequest, "dpop_jkt must be a base64url SHA-256 JWK thumbprint")
	}
	if jkt, err = s.proofAt(r, PathDeviceAuthorization, jkt); err != nil {
		return nil, err
	}
	d, now := s.device, s.now()
	return &store.DeviceGrant{ClientID: c.ID, Scope: scope, Resources: aud, JKT: jkt,
		Interval: d.Interval, Status: store.DevicePending, CreatedAt: now, ExpiresAt: now.Add(d.Lifetime)}, nil
}

// validJKT: a base64url SHA-256 thumbprint is 43 characters.
func validJKT(v string) bool {
	if len(v) != 43 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// putDeviceGrant draws the codes and stores the grant; a user code taken
// already (one in 2.56e10 per live code) is drawn again, up to 4 times.
func (s *Server) putDeviceGrant(r *http.Request, g *store.DeviceGrant) (deviceCode, userCode string, err error) {
	for range 4 {
		deviceCode, userCode = randomToken(32), newUserCode()
		g.Hash, g.UserCodeHash = hashToken(deviceCode), userCodeHash(userCode)
		err = s.st.PutDeviceGrant(r.Context(), g)
		if !errors.Is(err, store.ErrAlreadyExists) {
			break
		}
	}
	if err != nil {
		return "", "", oauth.Wrap(err, "cannot store the device authorization")
	}
	return deviceCode, userCode, nil
}
