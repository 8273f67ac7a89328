package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
)

const gwBase = base + `gateway:
  enabled: true
  public_url: https://api.example
  routes:
    - name: orders
      path_prefix: /orders/
      upstream: http://10.0.0.5:8080
      scopes: [orders:read]
      policy:
        - {action: deny, paths: ["/orders/admin/*"]}
        - {action: allow, principals: ["client:shop", "sub:alice"], methods: [GET], paths: ["/orders/*"]}
    - name: health
      path_prefix: /health
      upstream: builtin:demo
      unauthenticated: true
`

func TestGatewayValid(t *testing.T) {
	c, err := load("ward.yaml", gwBase+"  limits: {max_body_bytes: 1MiB, max_header_bytes: 16KiB}\n", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	g := c.Gateway
	if !g.Enabled || len(g.Routes) != 2 || g.Limits.MaxBodyBytes != 1<<20 || g.Limits.MaxHeaderBytes != 16<<10 {
		t.Errorf("%+v", g)
	}
	if g.IdentityHeaders.Subject != "X-Ward-Subject" || g.Listen != "127.0.0.1:9001" {
		t.Errorf("defaults not kept: %+v", g)
	}
	if c.GatewayIssuer() != "https://as.example" || g.RouteAudience(&g.Routes[0]) != "https://api.example" {
		t.Errorf("issuer %q audience %q", c.GatewayIssuer(), g.RouteAudience(&g.Routes[0]))
	}
	if r := g.Routes[0].Policy[1].Rule(); r.Principals[0] != "client:shop" || r.Action != "allow" {
		t.Errorf("%+v", r)
	}
	// A disabled gateway is not validated.
	if _, err := load("ward.yaml", base+"gateway:\n  enabled: false\n  routes: [{name: x}]\n", noEnv); err != nil {
		t.Errorf("disabled gateway: %v", err)
	}
}

func TestGatewayErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
		sentinel         error
	}{
		{"typo", strings.Replace(gwBase, "public_url", "publc_url", 1),
			`ward.yaml:6: unknown key "publc_url" in gateway (did you mean "public_url"?)`, config.ErrUnknownKey},
		{"route key typo", strings.Replace(gwBase, "upstream: http", "upstrem: http", 1),
			`ward.yaml:10: unknown key "upstrem" in gateway.routes[0] (did you mean "upstream"?)`, config.ErrUnknownKey},
		{"bad upstream", strings.Replace(gwBase, "http://10.0.0.5:8080", "ftp://x", 1),
			`ward.yaml:10: gateway.routes[0].upstream: "ftp://x" must be an http or https URL without query, fragment or credentials, or builtin:demo`, config.ErrInvalidValue},
		{"ambiguous prefix", strings.Replace(gwBase, "path_prefix: /orders/", "path_prefix: /a/../orders/", 1),
			`ward.yaml:9: gateway.routes[0].path_prefix: "/a/../orders/" must be a clean path such as /api/ (no dot segments, //, or percent-encoding)`, config.ErrInvalidValue},
		{"bad principal", strings.Replace(gwBase, `"sub:alice"`, `"alice"`, 1),
			`ward.yaml:14: gateway.routes[0].policy[1]: principal "alice" must be *, client:<client_id>, sub:<subject> or a spiffe:// ID`, config.ErrInvalidValue},
		{"bad action", strings.Replace(gwBase, "action: deny", "action: block", 1),
			`ward.yaml:13: gateway.routes[0].policy[0]: action "block" must be allow or deny`, config.ErrInvalidValue},
		{"no allow rule", strings.Replace(gwBase, `        - {action: allow, principals: ["client:shop", "sub:alice"], methods: [GET], paths: ["/orders/*"]}`+"\n", "", 1),
			`ward.yaml:13: gateway.routes[0].policy: an authenticated route needs at least one allow rule (default deny), e.g. {action: allow, principals: ["*"]}`, config.ErrMissing},
		{"unauthenticated with policy", gwBase + "      scopes: [x]\n",
			`ward.yaml:18: gateway.routes[1].unauthenticated: an unauthenticated route checks no token: remove policy, scopes, allow_bearer, audience and exchange`, config.ErrInvalidValue},
		{"duplicate name", strings.Replace(gwBase, "name: health", "name: orders", 1),
			`ward.yaml:15: gateway.routes[1].name: duplicate route name "orders"`, config.ErrInvalidValue},
		{"http public url", strings.Replace(gwBase, "https://api.example", "http://api.example", 1),
			`ward.yaml:6: gateway.public_url: "http://api.example" must use https (http is allowed only in dev mode)`, config.ErrInvalidValue},
		{"hmac token alg", gwBase + "  token_algorithms: [HS256]\n",
			`ward.yaml:19: gateway.token_algorithms[0]: "HS256" is not allowed: only asymmetric signatures (RFC 8725 §3.1, RFC 9449 §4.2)`, config.ErrInvalidValue},
		{"reserved identity header", gwBase + "  identity_headers: {subject: Authorization}\n",
			`ward.yaml:19: gateway.identity_headers.subject: "Authorization" is reserved`, config.ErrInvalidValue},
		{"identity jwt header reuses an identity header", gwBase + "  identity_jwt: {header: X-Ward-Subject}\n",
			`ward.yaml:19: gateway.identity_jwt.header: "X-Ward-Subject" is used twice`, config.ErrInvalidValue},
		{"identity jwt ttl too long", gwBase + "  identity_jwt: {header: X-Ward-Identity, ttl: 1h}\n",
			`ward.yaml:19: gateway.identity_jwt.ttl: must be between 0 (default 60s) and 5m`, config.ErrInvalidValue},
		{"bad size", gwBase + "  limits: {max_body_bytes: 10MB}\n",
			`ward.yaml:19: gateway.limits.max_body_bytes: "10MB": not a size such as 65536, 64KiB or 10MiB`, config.ErrInvalidValue},
		{"same listeners", gwBase + "  admin_listen: 127.0.0.1:9001\n",
			`ward.yaml:19: gateway.admin_listen: must differ from gateway.listen: metrics are never served on the public listener`, config.ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load("ward.yaml", tt.yaml, noEnv)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("does not wrap %v", tt.sentinel)
			}
		})
	}
}
