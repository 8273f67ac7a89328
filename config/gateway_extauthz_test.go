package config_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
)

func TestGatewayExtAuthz(t *testing.T) {
	c, err := load("ward.yaml", gwBase+"  ext_authz: {listen: 127.0.0.1:9191}\n", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Gateway.ExtAuthz
	if !e.Enabled() || len(e.Peers()) != 2 || !e.Peers()[0].Contains(mustAddr("127.0.0.1")) {
		t.Errorf("%+v peers %v", e, e.Peers())
	}
	c, err = load("ward.yaml", gwBase+"  ext_authz:\n    listen: 0.0.0.0:9191\n    tls: {cert_file: a.pem, key_file: a-key.pem}\n    client_ca_files: [envoy-ca.pem]\n", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.ExtAuthz.Peers() != nil {
		t.Errorf("with client certificates, any address: %v", c.Gateway.ExtAuthz.Peers())
	}
	if c, err = load("ward.yaml", gwBase, noEnv); err != nil || c.Gateway.ExtAuthz.Enabled() {
		t.Errorf("off by default: %v", err)
	}
}

func TestGatewayExtAuthzErrors(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, want string
		sentinel         error
	}{
		{"plaintext on a public address", gwBase + "  ext_authz: {listen: 0.0.0.0:9191}\n",
			`ward.yaml:19: gateway.ext_authz.listen: "0.0.0.0:9191" is not a loopback address: set trusted_peers`, config.ErrInvalidValue},
		{"client CAs without TLS", gwBase + "  ext_authz: {listen: 127.0.0.1:9191, client_ca_files: [ca.pem]}\n",
			`gateway.ext_authz.client_ca_files: needs gateway.ext_authz.tls`, config.ErrMissing},
		{"same address as the gateway", gwBase + "  ext_authz: {listen: 127.0.0.1:9001}\n",
			`gateway.ext_authz.listen: "127.0.0.1:9001" is already the gateway's listen, admin_listen or authorizer.listen`, config.ErrInvalidValue},
		{"no port", gwBase + "  ext_authz: {listen: 127.0.0.1}\n",
			`gateway.ext_authz.listen: "127.0.0.1" is not a host:port address`, config.ErrInvalidValue},
		{"keys without listen", gwBase + "  ext_authz: {trusted_peers: [10.0.0.0/8]}\n",
			`gateway.ext_authz.listen: the other ext_authz keys need a listen address`, config.ErrMissing},
		{"gateway off", base + "gateway:\n  ext_authz: {listen: 127.0.0.1:9191}\n",
			`gateway.ext_authz.listen: needs gateway.enabled`, config.ErrInvalidValue},
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

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
