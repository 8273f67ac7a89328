package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardauth/ward/oauth"
)

// Registration configures dynamic client registration (RFC 7591) and the
// management of registered clients (RFC 7592): docs/REGISTRATION.md. Off
// by default. When on, a registration needs an initial access token
// (`ward client token`), unless Open lets public clients register
// without one. Every registered client is DPoP-bound.
type Registration struct {
	Enabled bool `yaml:"enabled"`
	// Open: public clients (token_endpoint_auth_method none, loopback or
	// https redirect URIs, the authorization_code and refresh_token
	// grants) may register without an initial access token.
	Open bool `yaml:"open"`
	// Scopes a registered client may request; its own scope metadata can
	// only narrow them. Default: none but openid.
	Scopes []string `yaml:"scopes"`
	// Audiences (RFC 8707 resources) of a registered client's tokens,
	// the first the default: the APIs such clients are registered for.
	Audiences []string `yaml:"audiences"`
	// GrantTypes a client registering with an initial access token may
	// ask for; open registration allows authorization_code and
	// refresh_token only. Default authorization_code, refresh_token.
	GrantTypes []oauth.GrantType `yaml:"grant_types"`
	// UnusedTTL: a registered client that holds no token family this
	// long after its registration (or last update) is deleted with the
	// other expired rows. Default 720h (30 days).
	UnusedTTL time.Duration `yaml:"unused_ttl"`
	// MaxRedirectURIs bounds redirect_uris. Default 5, at most 20.
	MaxRedirectURIs Count `yaml:"max_redirect_uris"`
}

// MaxRegistrationRedirectURIs bounds registration.max_redirect_uris.
const MaxRegistrationRedirectURIs = 20

// DefaultRegistration: off; when turned on, 30 days for unused clients
// and 5 redirect URIs.
func DefaultRegistration() Registration {
	return Registration{
		Scopes:          []string{oauth.ScopeOpenID},
		GrantTypes:      []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		UnusedTTL:       30 * 24 * time.Hour,
		MaxRedirectURIs: 5,
	}
}

// CheckRedirectURI returns why u is not an acceptable redirect URI for a
// configured client, or "" (https; http on a loopback IP literal; a
// private-use scheme in reverse-domain form; never a fragment or a
// wildcard).
func CheckRedirectURI(u string) string { return checkRedirectURI(u) }

func (v *validator) registration() {
	r := &v.c.Registration
	if !r.Enabled {
		return
	}
	v.positive("registration.unused_ttl", r.UnusedTTL, 0)
	if r.MaxRedirectURIs < 1 || r.MaxRedirectURIs > MaxRegistrationRedirectURIs {
		v.add("registration.max_redirect_uris", ErrInvalidValue, "must be between 1 and %d", MaxRegistrationRedirectURIs)
	}
	v.scopeTokens("registration.scopes", r.Scopes)
	for i, a := range r.Audiences {
		if a == "" || strings.ContainsAny(a, " \"\\\x00\t\r\n") {
			v.add(fmt.Sprintf("registration.audiences[%d]", i), ErrInvalidValue, "%q is not a resource URI", a)
		}
	}
	allowed := []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials}
	for i, g := range r.GrantTypes {
		if !slices.Contains(allowed, g) {
			v.oneOf(fmt.Sprintf("registration.grant_types[%d]", i), string(g), names(allowed)...)
		}
	}
}
