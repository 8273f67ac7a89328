package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
)

// TestScaleoutKeys: authorization_server.enabled and keys.refresh_interval
// are validated with their key and line; a gateway-only file needs
// neither a store nor a KEK.
func TestScaleoutKeys(t *testing.T) {
	const head = "issuer: https://as.example\nbehind_tls_proxy: {trusted_proxies: [10.0.0.0/8]}\n"
	const gw = "gateway: {enabled: true, public_url: https://api.example, routes: [{name: d, path_prefix: /d/, upstream: builtin:demo, policy: [{name: r, action: allow, principals: ['*']}]}]}\n"
	tests := []struct {
		name, yaml, want string
		sentinel         error
	}{
		{"gateway only", head + "authorization_server: {enabled: false}\n" + gw, "", nil},
		{"nothing to run", head + "authorization_server: {enabled: false}\nkeys: {kek_file: /k}\n",
			`ward.yaml:3: authorization_server.enabled: false needs gateway.enabled: true (nothing would run)`, config.ErrInvalidValue},
		{"refresh interval", head + "keys: {kek_file: /k, refresh_interval: 10s}\n", "", nil},
		{"refresh interval not below publish_ahead", head + "keys: {kek_file: /k, refresh_interval: 2h}\n",
			`ward.yaml:3: keys.refresh_interval: must be below keys.publish_ahead (1h0m0s), so every instance publishes a new key before it signs`, config.ErrInvalidValue},
		{"refresh interval zero", head + "keys: {kek_file: /k, refresh_interval: 0s}\n",
			`ward.yaml:3: keys.refresh_interval: must be positive`, config.ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ward.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := config.Load(path)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, tt.sentinel) {
				t.Fatalf("Load = %v, want %v", err, tt.sentinel)
			}
			if got := strings.TrimPrefix(err.Error(), filepath.Dir(path)+"/"); got != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// TestGatewayOnlyConfig: a process running only the gateway has no
// authorization-server listener, so it needs neither a top-level issuer
// nor tls; gateway.issuer (or gateway.issuers) names the trusted issuer,
// and without any issuer the gateway's own key says so.
func TestGatewayOnlyConfig(t *testing.T) {
	const gw = "gateway: {enabled: true, public_url: https://api.example, %s routes: [{name: d, path_prefix: /d/, upstream: builtin:demo, policy: [{name: r, action: allow, principals: ['*']}]}]}\n"
	off := "authorization_server: {enabled: false}\n"
	tests := []struct{ name, yaml, want string }{
		{"gateway issuer only", off + fmt.Sprintf(gw, "issuer: https://idp.example,"), ""},
		{"https top-level issuer without tls", "issuer: https://idp.example\n" + off + fmt.Sprintf(gw, ""), ""},
		{"no issuer at all", off + fmt.Sprintf(gw, ""), "ward.yaml:2: gateway.issuer: required when there is no top-level issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ward.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := config.Load(path)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if c.GatewayIssuer() != "https://idp.example" {
					t.Errorf("GatewayIssuer = %q", c.GatewayIssuer())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "issuer: required (the https URL") {
				t.Fatalf("Load = %v, want %s", err, tt.want)
			}
		})
	}
}
