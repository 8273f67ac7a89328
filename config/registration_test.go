package config_test

import (
	"errors"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
)

// TestRegistrationConfig: registration is off by default; a written
// section is read with its defaults (30 days for unused clients, 5
// redirect URIs, openid only).
func TestRegistrationConfig(t *testing.T) {
	c, err := load("ward.yaml", base, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Registration.Enabled || c.RateLimits.Effective().Register.IP.Rate != 30 {
		t.Fatalf("defaults: %+v", c.Registration)
	}
	c, err = load("ward.yaml", base+"registration:\n  enabled: true\n  open: true\n  scopes: [mcp:tools]\n  audiences: [https://api.example]\n", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Registration
	if !r.Enabled || !r.Open || r.UnusedTTL != 30*24*time.Hour || r.MaxRedirectURIs != 5 || r.Scopes[0] != "mcp:tools" {
		t.Fatalf("%+v", r)
	}
}

// TestRegistrationConfigErrors: each mistake names its key and line.
func TestRegistrationConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"grant", base + "registration:\n  enabled: true\n  grant_types: [password]\n",
			`ward.yaml:6: registration.grant_types[0]: "password" is not one of authorization_code, refresh_token, client_credentials`},
		{"ttl", base + "registration:\n  enabled: true\n  unused_ttl: -1h\n",
			`ward.yaml:6: registration.unused_ttl: must be positive`},
		{"redirects", base + "registration:\n  enabled: true\n  max_redirect_uris: 50\n",
			`ward.yaml:6: registration.max_redirect_uris: must be between 1 and 20`},
		{"scope", base + "registration:\n  enabled: true\n  scopes: [\"a b\"]\n",
			`ward.yaml:6: registration.scopes[0]: "a b" is not a scope token (RFC 6749 §3.3)`},
		{"client tier", base + "rate_limits:\n  register:\n    client: {rate: 5}\n",
			`ward.yaml:6: rate_limits.register.client: registration is limited per ip: there is no client yet`},
		{"global tier", base + "rate_limits:\n  register:\n    global:\n      rate: 5000\n      period: 1ms\n",
			`ward.yaml:7: rate_limits.register.global.rate: 5000 per 1ms is more than one request a millisecond`},
		{"global elsewhere", base + "rate_limits:\n  token:\n    global: {rate: 5}\n",
			`ward.yaml:6: rate_limits.token.global: only rate_limits.register has a global tier`},
		{"events_push client tier", base + "rate_limits:\n  events_push:\n    client: {rate: 5}\n",
			`ward.yaml:6: rate_limits.events_push.client: pushed SETs are limited per ip: the sender is known only after verification`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load("ward.yaml", tt.yaml, noEnv)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got  %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, config.ErrInvalidValue) {
				t.Errorf("does not wrap ErrInvalidValue")
			}
		})
	}
}
