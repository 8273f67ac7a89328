package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
)

const gwAuthorizer = gwBase + `  authorizer:
    trusted_proxies: [10.0.0.0/8]
`

func TestGatewayAuthorizerValid(t *testing.T) {
	c, err := load("ward.yaml", gwAuthorizer, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Gateway.Authorizer
	if !a.Enabled() || a.PathOrDefault() != "/_ward/authorize" || a.Listen != "" {
		t.Errorf("%+v", a)
	}
}

func TestGatewayAuthorizerErrors(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, want string
		sentinel         error
	}{
		{"listen without trusted proxies", gwBase + "  authorizer:\n    listen: 127.0.0.1:9003\n",
			`gateway.authorizer.trusted_proxies: required to turn the endpoint on`, config.ErrMissing},
		{"host bits", strings.Replace(gwAuthorizer, "10.0.0.0/8", "10.0.0.1/8", 1),
			`gateway.authorizer.trusted_proxies[0]: "10.0.0.1/8" is not a network address (write 10.0.0.0/8)`, config.ErrInvalidValue},
		{"listen on the gateway's address", gwAuthorizer + "    listen: 127.0.0.1:9001\n",
			`gateway.authorizer.listen: must differ from gateway.listen`, config.ErrInvalidValue},
		{"root path", gwAuthorizer + "    path: /\n",
			`gateway.authorizer.path: must be below /`, config.ErrInvalidValue},
		{"unclean path", gwAuthorizer + "    path: /a/../b\n",
			`gateway.authorizer.path: "/a/../b" is not a clean path`, config.ErrInvalidValue},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load("ward.yaml", tt.yaml, noEnv)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("does not wrap %v", tt.sentinel)
			}
		})
	}
}
