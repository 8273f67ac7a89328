package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
)

const issuersBase = `authorization_server: {enabled: false}
gateway:
  enabled: true
  public_url: https://api.example
  issuers:
    - name: ward
      issuer: https://as.example
    - name: keycloak
      issuer: https://sso.example/realms/shop
      discovery: oidc
      token_algorithms: [RS256]
      profile: legacy-jwt
      claims: {client: [azp]}
    - issuer: https://tenant.auth0.example/
      jwks_uri: https://tenant.auth0.example/.well-known/jwks.json
      token_algorithms: [RS256]
      profile: legacy-jwt
      introspection: {client_id: gw, client_secret_file: /run/secret}
  routes:
    - name: orders
      path_prefix: /orders/
      upstream: http://10.0.0.5:8080
      issuers: [keycloak, "https://tenant.auth0.example/"]
      policy: [{action: allow, principals: ["*"]}]
    - name: admin
      path_prefix: /admin/
      upstream: http://10.0.0.5:8080
      issuers: [ward]
      policy: [{action: allow, principals: ["*"]}]
`

// TestGatewayIssuers: gateway.issuers and routes[].issuers load with
// their defaults, and a gateway-only file needs nothing else.
func TestGatewayIssuers(t *testing.T) {
	c, err := load("ward.yaml", issuersBase, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	g := c.Gateway
	if len(g.Issuers) != 3 || g.Issuers[2].IssuerName() != "https://tenant.auth0.example/" || g.Issuers[1].Claims.Client[0] != "azp" {
		t.Fatalf("%+v", g.Issuers)
	}
	if got := g.RouteIssuers(&g.Routes[0]); len(got) != 2 || got[0].Name != "keycloak" || !got[1].Introspection.Enabled() {
		t.Errorf("orders accepts %+v", got)
	}
	if got := g.RouteIssuers(&g.Routes[1]); len(got) != 1 || got[0].Name != "ward" {
		t.Errorf("admin accepts %+v", got)
	}
	// A rule's issuer names become identifiers.
	y := strings.Replace(issuersBase, `policy: [{action: allow, principals: ["*"]}]`, `policy: [{action: allow, principals: ["client:shop"], issuers: [keycloak]}]`, 1)
	c, err = load("ward.yaml", y, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Gateway.PolicyRule(c.Gateway.Routes[0].Policy[0]); len(r.Issuers) != 1 || r.Issuers[0] != "https://sso.example/realms/shop" {
		t.Errorf("rule issuers %v", r.Issuers)
	}
}

func TestGatewayIssuersErrors(t *testing.T) {
	tests := []struct{ name, from, to, want string }{
		{"both forms", "  issuers:\n", "  issuer: https://as.example\n  issuers:\n",
			"ward.yaml:5: gateway.issuer: set gateway.issuer (one issuer) or gateway.issuers, not both"},
		{"hmac", "[RS256]\n      profile: legacy-jwt\n      claims", "[HS256]\n      profile: legacy-jwt\n      claims",
			`ward.yaml:11: gateway.issuers[1].token_algorithms[0]: "HS256" is not allowed: only asymmetric signatures (RFC 8725 §3.1, RFC 9449 §4.2)`},
		{"profile", "profile: legacy-jwt\n      claims", "profile: loose\n      claims",
			`ward.yaml:12: gateway.issuers[1].profile: "loose" is not one of rfc9068, legacy-jwt`},
		{"discovery", "discovery: oidc", "discovery: webfinger",
			`ward.yaml:10: gateway.issuers[1].discovery: "webfinger" is not one of rfc8414, oidc`},
		{"http issuer", "issuer: https://sso.example", "issuer: http://sso.example",
			`ward.yaml:9: gateway.issuers[1].issuer: "http://sso.example/realms/shop" must use https (http is allowed only in dev mode)`},
		{"duplicate name", "name: keycloak", "name: ward",
			`ward.yaml:8: gateway.issuers[1].name: "ward" is used twice or contains spaces or quotes`},
		// routes[].issuers names an issuer by name or identifier: one
		// issuer named like another's identifier would be accepted by a
		// route meant for the other.
		{"name is another's identifier", "name: keycloak", "name: https://as.example",
			`ward.yaml:8: gateway.issuers[1].name: "https://as.example" is another issuer's identifier`},
		{"identifier is another's name", "name: ward", "name: https://sso.example/realms/shop",
			`ward.yaml:9: gateway.issuers[1].issuer: "https://sso.example/realms/shop" is another issuer's name`},
		{"unknown route issuer", "issuers: [ward]", "issuers: [okta]",
			`ward.yaml:28: gateway.routes[1].issuers[0]: "okta" is not a configured issuer (gateway.issuers[].name or .issuer)`},
		{"secret and key", "client_secret_file: /run/secret}", "client_secret_file: /run/secret, private_key_file: /k.pem}",
			"ward.yaml:18: gateway.issuers[2].introspection: set exactly one of client_secret_file and private_key_file"},
		{"no client id", "{client_id: gw, client_secret_file", "{client_secret_file",
			"ward.yaml:18: gateway.issuers[2].introspection.client_id: required to introspect (the gateway's client at the issuer)"},
		{"client principal without issuers on a route of two issuers", `issuers: [keycloak, "https://tenant.auth0.example/"]
      policy: [{action: allow, principals: ["*"]}]`, `issuers: [keycloak, "https://tenant.auth0.example/"]
      policy: [{action: allow, principals: ["client:shop"]}]`,
			`ward.yaml:24: gateway.routes[0].policy[0].issuers: required: the route accepts 2 issuers and "client:shop" names a client or subject, which is unique only within one issuer`},
		{"policy issuer the route does not accept", `issuers: [keycloak, "https://tenant.auth0.example/"]
      policy: [{action: allow, principals: ["*"]}]`, `issuers: [keycloak, "https://tenant.auth0.example/"]
      policy: [{action: allow, principals: ["client:shop"], issuers: [ward]}]`,
			`ward.yaml:24: gateway.routes[0].policy[0].issuers[0]: "ward" is not an issuer this route accepts`},
		{"two introspecting issuers on a route", "      claims: {client: [azp]}\n", "      claims: {client: [azp]}\n      introspection: {client_id: gw, private_key_file: /k.pem}\n",
			"ward.yaml:24: gateway.routes[0].issuers: the route accepts 2 issuers that introspect opaque tokens: name at most one (an opaque token does not say its issuer)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := strings.Replace(issuersBase, tt.from, tt.to, 1)
			if y == issuersBase {
				t.Fatal("replacement did not apply")
			}
			_, err := load("ward.yaml", y, noEnv)
			if err == nil || !errors.Is(err, config.ErrInvalidValue) && !errors.Is(err, config.ErrMissing) {
				t.Fatalf("got %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// TestGatewayIssuersBFFNeedsIssuer: BFF sites log in at the top-level
// issuer, which gateway.issuers does not provide.
func TestGatewayIssuersBFFNeedsIssuer(t *testing.T) {
	bff := `  bff:
    - name: shop
      public_url: https://app.example
      client_id: shop-bff
      client_secret_file: /etc/ward/shop-bff.secret
      resource: https://api.example
      api: https://api.example/orders
`
	_, err := load("ward.yaml", issuersBase+bff, noEnv)
	if err == nil || !strings.Contains(err.Error(), "issuer: required with gateway.issuers and gateway.bff") {
		t.Fatalf("got %v", err)
	}
	if _, err := load("ward.yaml", "issuer: https://as.example\n"+issuersBase+bff, noEnv); err != nil {
		t.Fatalf("with a top-level issuer: %v", err)
	}
}
