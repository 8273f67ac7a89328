package config_test

import (
	"flag"
	"github.com/wardauth/ward/oauth"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
)

var updateRules = flag.Bool("update", false, "rewrite testdata/rules.golden and testdata/decode.golden")

// rulesBase is a valid file that enables every validated section: clients
// of each kind, a gateway with certificate routes and a BFF site, and the
// authorization server's mTLS.
const rulesBase = gwMTLS + `  bff:
    - name: shop
      public_url: https://app.example
      client_id: shop-bff
      client_secret_file: /etc/ward/shop-bff.secret
      scopes: [orders:read]
      resource: https://api.example
      api: https://api.example/orders
mtls:
  client_ca_files: [ca.pem]
clients:
  - {id: pub, auth_method: none, redirect_uris: ["https://a.example/cb"]}
  - {id: conf, auth_method: client_secret_basic, secret_env: S, redirect_uris: ["https://a.example/cb"]}
users:
  - subject: u1
    username: alice
    password_env: S
    claims: {name: Alice, email: alice@example.com, email_verified: true, address: {country: FR}}
`

// ruleCases break one rule (or one rule group) each. The golden file holds
// every error Validate returns for each, in order: a rule dropped, a
// message reworded or a reordering of the checks changes it.
var ruleCases = []struct {
	name    string
	breakIt func(c *config.Config)
}{
	// clients (validate.go)
	{"client/id missing", func(c *config.Config) { c.Clients[0].ID = "" }},
	{"client/id duplicate", func(c *config.Config) { c.Clients[1].ID = "pub" }},
	{"client/auth_method missing", func(c *config.Config) { c.Clients[0].AuthMethod = "" }},
	{"client/auth_method unknown", func(c *config.Config) { c.Clients[0].AuthMethod = "magic" }},
	{"client/none with secret and keys", func(c *config.Config) { c.Clients[0].SecretEnv = "S"; c.Clients[0].JWKS = `{"keys":[]}` }},
	{"client/secret missing", func(c *config.Config) { c.Clients[1].SecretEnv = "" }},
	{"client/secret twice and bad hash", func(c *config.Config) { c.Clients[1].SecretHash = "abc" }},
	{"client/secret with jwks", func(c *config.Config) { c.Clients[1].JWKSFile = "/k.json" }},
	{"client/private_key_jwt without keys, with secret", func(c *config.Config) { c.Clients[1].AuthMethod = "private_key_jwt" }},
	{"client/private_key_jwt jwks and file", func(c *config.Config) {
		c.Clients[1].AuthMethod, c.Clients[1].SecretEnv, c.Clients[1].JWKS, c.Clients[1].JWKSFile = "private_key_jwt", "", "nope", "/k.json"
	}},
	{"client/jwks private key", func(c *config.Config) {
		c.Clients[1].AuthMethod, c.Clients[1].SecretEnv = "private_key_jwt", ""
		c.Clients[1].JWKS = `{"keys":[{"kid":"k1","kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}`
	}},
	{"client/tls_client_auth not an object", func(c *config.Config) {
		c.Clients[1].AuthMethod, c.Clients[1].JWKS = "tls_client_auth", "nope"
	}},
	{"client/tls_client_auth two values", func(c *config.Config) {
		c.Clients[1].AuthMethod, c.Clients[1].SecretEnv = "tls_client_auth", ""
		c.Clients[1].JWKS = `{"tls_client_auth_san_uri":"spiffe://x/y","tls_client_auth_san_dns":"x"}`
	}},
	{"client/self_signed without keys", func(c *config.Config) {
		c.Clients[1].AuthMethod, c.Clients[1].SecretEnv, c.Clients[1].JWKS = "self_signed_tls_client_auth", "", `{"keys":[]}`
	}},
	{"client/grants removed and unknown", func(c *config.Config) {
		c.Clients[1].GrantTypes = []oauth.GrantType{"password", "implicit", "token", "device_code", "authorization_code"}
	}},
	{"client/token_exchange grant without policy", func(c *config.Config) {
		c.Clients[1].GrantTypes = []oauth.GrantType{oauth.GrantClientCredentials, oauth.GrantTokenExchange}
	}},
	{"client/token_exchange bad policy", func(c *config.Config) {
		c.Clients[1].TokenExchange = &config.TokenExchange{SubjectAudiences: []string{"nope"}, Scopes: []string{"a b"}, MaxChainDepth: 9}
	}},
	{"client/public client_credentials", func(c *config.Config) { c.Clients[0].GrantTypes = []oauth.GrantType{"client_credentials"} }},
	{"client/redirect_uris missing", func(c *config.Config) { c.Clients[0].RedirectURIs = nil }},
	{"client/redirect_uris bad", func(c *config.Config) {
		c.Clients[1].RedirectURIs = []string{"/cb", "https://a.example/cb#f", "http://127.0.0.1/cb", "http://localhost/cb"}
	}},
	{"client/remembered consent", func(c *config.Config) { c.Clients[1].AllowRememberedConsent = true }},
	{"client/logo_uri and client_uri", func(c *config.Config) {
		c.Clients[0].LogoURI, c.Clients[0].ClientURI = "http://a.example/logo.png", "javascript:alert(1)"
		c.Clients[1].LogoURI = "data:image/png;base64,iVBORw0KGgo="
	}},
	// ui (ui.go)
	{"ui/brand", func(c *config.Config) {
		c.UI.Brand.Name, c.UI.Brand.PrimaryColor, c.UI.Brand.LogoURL = "Acme\n"+strings.Repeat("x", 64), "blue", "https://cdn.example/a b.png"
	}},
	{"client/scopes", func(c *config.Config) { c.Clients[0].Scopes = []string{"ok", "", "a b", `q"`} }},
	{"client/audiences", func(c *config.Config) {
		c.Clients[0].Audiences = []string{"api", "https://a.example/#x", "https://ok.example"}
	}},
	{"client/sender_constraint", func(c *config.Config) { c.Clients[0].SenderConstraint = "maybe" }},
	{"client/access_token_ttl", func(c *config.Config) { c.Clients[0].AccessTokenTTL = -time.Second }},

	// clients: OpenID Connect (oidc.go)
	{"client/oidc algorithms and subject type", func(c *config.Config) {
		cl := &c.Clients[0]
		cl.IDTokenSignedResponseAlg, cl.UserinfoSignedResponseAlg, cl.SubjectType = "HS256", "none", "secret"
	}},
	{"client/oidc ES256 with EdDSA keys", func(c *config.Config) {
		c.Keys.Algorithm, c.Clients[0].IDTokenSignedResponseAlg = "EdDSA", "ES256"
	}},
	{"client/message signing algorithms and encryption", func(c *config.Config) {
		cl := &c.Clients[0]
		cl.AuthorizationSignedResponseAlg, cl.IntrospectionSignedResponseAlg = "none", "HS256"
		cl.AuthorizationEncryptedResponseAlg, cl.IntrospectionEncryptedResponseEnc = "RSA-OAEP-256", "A128GCM"
	}},
	{"client/oidc sector_identifier_uri", func(c *config.Config) {
		c.Clients[0].SectorIdentifierURI = "http://a.example/sector.json"
	}},
	{"client/oidc pairwise over two hosts", func(c *config.Config) {
		c.Clients[0].SubjectType = "pairwise"
		c.Clients[0].RedirectURIs = []string{"https://a.example/cb", "https://b.example/cb"}
		c.OIDC.PairwiseSaltFile = "/etc/ward/pairwise-salt"
	}},
	{"client/oidc pairwise private-use redirect", func(c *config.Config) {
		c.Clients[0].SubjectType = "pairwise"
		c.Clients[0].RedirectURIs = []string{"com.example.app:/cb"}
		c.OIDC.PairwiseSaltFile = "/etc/ward/pairwise-salt"
	}},
	{"client/oidc pairwise without salt", func(c *config.Config) { c.Clients[0].SubjectType = "pairwise" }},
	{"client/oidc post_logout_redirect_uris", func(c *config.Config) {
		c.Clients[1].PostLogoutRedirectURIs = []string{"/bye", "https://a.example/bye#f", "http://127.0.0.1/bye", "https://*.a.example/bye"}
	}},
	{"client/oidc backchannel_logout_uri", func(c *config.Config) {
		c.Clients[0].BackchannelLogoutURI, c.Clients[1].BackchannelLogoutURI = "http://a.example/bc", "https://a.example/bc#f"
	}},
	{"client/oidc session required without uri", func(c *config.Config) { c.Clients[0].BackchannelLogoutSessionRequired = true }},
	{"client/oidc default_max_age", func(c *config.Config) { c.Clients[0].DefaultMaxAge = -time.Second }},

	// users (validate.go, oidc.go)
	{"user/claims unknown", func(c *config.Config) { c.Users[0].Claims = `{"name":"A","shoe_size":"44"}` }},
	{"user/claims sub", func(c *config.Config) { c.Users[0].Claims = `{"sub":"x"}` }},
	{"user/claims type", func(c *config.Config) { c.Users[0].Claims = `{"email_verified":"yes"}` }},
	{"user/claims address member", func(c *config.Config) { c.Users[0].Claims = `{"address":{"zip":"75001"}}` }},
	{"user/claims formats", func(c *config.Config) { c.Users[0].Claims = `{"picture":"javascript:x"}` }},
	{"user/claims birthdate", func(c *config.Config) { c.Users[0].Claims = `{"birthdate":"14/03/1990"}` }},
	{"user/claims http picture", func(c *config.Config) { c.Users[0].Claims = `{"picture":"http://a.example/me.png"}` }},
	{"user/claims email", func(c *config.Config) { c.Users[0].Claims = `{"email":"alice at example.com"}` }},
	{"user/claims phone", func(c *config.Config) { c.Users[0].Claims = `{"phone_number":"01 23 45 67 89"}` }},
	{"user/claims locale", func(c *config.Config) { c.Users[0].Claims = `{"locale":"English"}` }},
	{"user/claims empty address", func(c *config.Config) { c.Users[0].Claims = `{"address":{}}` }},
	{"user/claims control character", func(c *config.Config) { c.Users[0].Claims = `{"name":"Al\u0007ice"}` }},

	// gateway (gateway.go)
	{"gateway/route exchange without client", func(c *config.Config) {
		c.Gateway.Routes[0].Exchange = &config.RouteExchange{Audience: "inventory", Scope: `a"b`}
		c.Gateway.Routes[0].ForwardAuthorization = true
	}},
	{"gateway/token_exchange incomplete", func(c *config.Config) {
		c.Gateway.TokenExchange = config.GatewayTokenExchange{ClientID: "gw", TokenEndpoint: "ftp://as"}
	}},
	{"gateway/token_exchange without client_id", func(c *config.Config) {
		c.Gateway.TokenExchange = config.GatewayTokenExchange{PrivateKeyFile: "/k.pem"}
	}},
	{"gateway/listeners", func(c *config.Config) { c.Gateway.Listen, c.Gateway.AdminListen = "nope", "nope" }},
	{"gateway/tls half", func(c *config.Config) { c.Gateway.TLS.KeyFile = "" }},
	{"gateway/trusted proxies", func(c *config.Config) {
		c.Gateway.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.0.0.1/8")}
	}},
	{"gateway/public_url bad", func(c *config.Config) { c.Gateway.PublicURL = "https://api.example/x" }},
	{"gateway/public_url http", func(c *config.Config) { c.Gateway.PublicURL = "http://api.example" }},
	{"gateway/public_url missing", func(c *config.Config) { c.Gateway.PublicURL = "" }},
	{"gateway/issuer missing", func(c *config.Config) {
		c.AuthorizationServer.Enabled, c.Issuer = false, ""
	}},
	{"gateway/algorithms", func(c *config.Config) {
		c.Gateway.TokenAlgorithms, c.Gateway.DPoPAlgorithms = nil, []string{"HS256", "none", "ES999", "ES256"}
	}},
	{"gateway/leeway", func(c *config.Config) { c.Gateway.Leeway = 6 * time.Minute }},
	{"gateway/identity headers", func(c *config.Config) {
		ih := &c.Gateway.IdentityHeaders
		ih.Subject, ih.Client, ih.Scopes, ih.JKT = "", "X-A", "x-a", "Authorization"
		c.Gateway.IdentityJWT.Header = "Bad Header"
	}},
	{"gateway/identity headers forwarded", func(c *config.Config) { c.Gateway.IdentityHeaders.JKT = "X-Forwarded-For" }},
	{"gateway/identity_jwt ttl", func(c *config.Config) { c.Gateway.IdentityJWT.TTL = 6 * time.Minute }},
	{"gateway/limits", func(c *config.Config) {
		c.Gateway.Limits.MaxHeaderBytes, c.Gateway.Limits.MaxConnections, c.Gateway.Limits.MaxBodyBytes = 100, 0, 0
	}},
	{"gateway/timeouts", func(c *config.Config) { c.Gateway.Timeouts = config.GatewayTimeouts{} }},
	{"gateway/routes missing", func(c *config.Config) {
		c.Gateway.Routes, c.Gateway.MTLS.CertificateRoutes = nil, nil
	}},
	{"route/name", func(c *config.Config) {
		c.Gateway.Routes[0].Name, c.Gateway.Routes[1].Name = "", "has space"
		c.Gateway.Routes[2].Name = "has space"
	}},
	{"route/host and path_prefix", func(c *config.Config) {
		c.Gateway.Routes[0].Host, c.Gateway.Routes[0].PathPrefix = "API.example:80", "/a/../b"
	}},
	{"route/upstream", func(c *config.Config) {
		c.Gateway.Routes[0].Upstream, c.Gateway.Routes[1].Upstream = "", "ftp://x"
	}},
	{"route/unauthenticated with token rules", func(c *config.Config) { c.Gateway.Routes[1].Scopes = []string{"a"} }},
	{"route/unauthenticated with issuers", func(c *config.Config) { c.Gateway.Routes[1].Issuers = []string{"https://as.example"} }},
	{"route/audience missing", func(c *config.Config) {
		c.Gateway.PublicURL = ""
		c.Gateway.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	}},
	{"route/scopes and policy", func(c *config.Config) {
		r := &c.Gateway.Routes[0]
		r.Scopes = []string{"", "a b"}
		r.Policy = []config.PolicyRule{{Action: "deny", Paths: []string{"/x/*"}}, {Action: "maybe"}}
	}},
	{"route/policy named rule", func(c *config.Config) {
		c.Gateway.Routes[0].Policy[1].Name, c.Gateway.Routes[0].Policy[1].Methods = "reads", []string{"get me"}
	}},

	// gateway.mtls (gateway_mtls.go)
	{"gateway mtls/client_ca_files", func(c *config.Config) { c.Gateway.MTLS.ClientCAFiles = []string{"ca.pem", " "} }},
	{"gateway mtls/require without CA", func(c *config.Config) {
		c.Gateway.MTLS.ClientCAFiles, c.Gateway.MTLS.CertificateRoutes, c.Gateway.MTLS.RequireClientCert = nil, nil, true
	}},
	{"gateway mtls/no tls", func(c *config.Config) {
		c.Gateway.TLS = config.TLS{}
		c.Gateway.MTLS.RequireClientCert = true
	}},
	{"gateway mtls/reload_interval", func(c *config.Config) { c.Gateway.MTLS.ReloadInterval = time.Millisecond }},
	{"gateway mtls/forwarded header without CA or proxies", func(c *config.Config) {
		c.Gateway.MTLS.ClientCAFiles, c.Gateway.MTLS.CertificateRoutes, c.Gateway.MTLS.ForwardedCertHeader = nil, nil, "X-Client-Cert"
	}},
	{"gateway mtls/header names", func(c *config.Config) {
		m := &c.Gateway.MTLS
		m.SPIFFEIDHeader, m.ThumbprintHeader = "Bad Name", "X-Ward-Subject"
		m.ForwardedCertHeader = "Cookie"
		c.Gateway.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	}},
	{"gateway mtls/header names twice", func(c *config.Config) {
		c.Gateway.MTLS.SPIFFEIDHeader, c.Gateway.MTLS.ThumbprintHeader = "X-Id", "x-id"
	}},
	{"gateway mtls/certificate_routes without CA", func(c *config.Config) { c.Gateway.MTLS.ClientCAFiles = nil }},
	{"gateway mtls/certificate_routes names", func(c *config.Config) {
		c.Gateway.MTLS.CertificateRoutes = []string{"charges", "charges", "nope"}
	}},
	{"gateway mtls/certificate route token rules", func(c *config.Config) {
		r := &c.Gateway.Routes[2]
		r.AllowBearer = true
		r.Policy = []config.PolicyRule{
			{Action: "deny", Scopes: []string{"a"}, Principals: []string{"client:x", "spiffe://ok"}},
			{Action: "allow"},
		}
	}},

	// gateway.issuers (gateway_issuers.go)
	{"issuers/with issuer and bff, no top-level issuer", func(c *config.Config) {
		c.Gateway.Issuer, c.AuthorizationServer.Enabled, c.Issuer = "https://as.example", false, ""
		c.Gateway.Issuers = []config.GatewayIssuer{{Issuer: "https://as.example"}}
	}},
	{"issuers/identity", func(c *config.Config) {
		c.Gateway.Issuers = []config.GatewayIssuer{
			{Issuer: "https://as.example"}, {}, {Issuer: "https://as.example", Name: "a b"},
			{Issuer: "idp.example", Name: "as.example"}, {Issuer: "http://idp.example"}, {Issuer: "https://idp.example/?q"},
		}
	}},
	{"issuers/settings", func(c *config.Config) {
		c.Gateway.Issuers = []config.GatewayIssuer{{
			Issuer: "https://as.example", Discovery: "magic", Profile: "jwt", JWKSURI: "jwks",
			TokenAlgorithms: []string{"HS256"},
			Claims:          config.IssuerClaims{Client: []string{"azp", ""}, Scopes: []string{""}},
		}}
	}},
	{"issuers/introspection", func(c *config.Config) {
		c.Gateway.Issuers = []config.GatewayIssuer{
			{Issuer: "https://as.example", Introspection: config.IssuerIntrospection{ClientSecretFile: "/s"}},
			{Issuer: "https://b.example", Introspection: config.IssuerIntrospection{ClientID: "g", Endpoint: "http://b.example/i"}},
			{Issuer: "https://c.example", Introspection: config.IssuerIntrospection{ClientID: "g", ClientSecretFile: "/s", PrivateKeyFile: "/k"}},
		}
	}},

	// gateway.ext_authz (gateway_extauthz.go)
	{"ext_authz/keys without listen", func(c *config.Config) {
		c.Gateway.ExtAuthz.ClientCAFiles = []string{"ca.pem"}
	}},
	{"ext_authz/gateway off", func(c *config.Config) {
		c.Gateway.Enabled, c.Gateway.ExtAuthz.Listen = false, "127.0.0.1:9191"
	}},
	{"ext_authz/listen bad", func(c *config.Config) { c.Gateway.ExtAuthz.Listen = "nope" }},
	{"ext_authz/listen taken", func(c *config.Config) { c.Gateway.ExtAuthz.Listen = c.Gateway.Listen }},
	{"ext_authz/tls and client CAs", func(c *config.Config) {
		e := &c.Gateway.ExtAuthz
		e.Listen, e.TLS.CertFile, e.ClientCAFiles = "127.0.0.1:9191", "c.pem", []string{"ca.pem", " "}
	}},
	{"ext_authz/client CAs without tls", func(c *config.Config) {
		c.Gateway.ExtAuthz.Listen, c.Gateway.ExtAuthz.ClientCAFiles = "0.0.0.0:9191", []string{"ca.pem"}
	}},
	{"ext_authz/open listener", func(c *config.Config) { c.Gateway.ExtAuthz.Listen = "0.0.0.0:9191" }},
	{"ext_authz/localhost", func(c *config.Config) {
		c.Gateway.ExtAuthz.Listen, c.Gateway.ExtAuthz.TLS.KeyFile = "localhost:9191", "k.pem"
	}},

	// gateway.bff (bff.go)
	{"bff/name missing", func(c *config.Config) { c.Gateway.BFF[0].Name = "" }},
	{"bff/name taken", func(c *config.Config) { c.Gateway.Routes[1].Name = "bff-shop" }},
	{"bff/name invalid", func(c *config.Config) { c.Gateway.BFF[0].Name = "sh op" }},
	{"bff/public_url missing", func(c *config.Config) { c.Gateway.BFF[0].PublicURL = "" }},
	{"bff/public_url bad", func(c *config.Config) { c.Gateway.BFF[0].PublicURL = "https://app.example/x" }},
	{"bff/public_url http", func(c *config.Config) { c.Gateway.BFF[0].PublicURL = "http://app.example" }},
	{"bff/path_prefix", func(c *config.Config) { c.Gateway.BFF[0].PathPrefix = "/a/../b" }},
	{"bff/client", func(c *config.Config) { c.Gateway.BFF[0].ClientID, c.Gateway.BFF[0].ClientSecretFile = "", "" }},
	{"bff/scopes and resource", func(c *config.Config) {
		c.Gateway.BFF[0].Scopes, c.Gateway.BFF[0].Resource = []string{"", "a b"}, "api"
	}},
	{"bff/api missing", func(c *config.Config) { c.Gateway.BFF[0].API = "" }},
	{"bff/api bad", func(c *config.Config) { c.Gateway.BFF[0].API = "ftp://x" }},
	{"bff/after login and logout", func(c *config.Config) {
		c.Gateway.BFF[0].AfterLogin, c.Gateway.BFF[0].AfterLogout = "//evil.example", "https://evil.example/"
	}},
	{"bff/csrf_header", func(c *config.Config) { c.Gateway.BFF[0].CSRFHeader = "CSRF" }},
	{"bff/session", func(c *config.Config) {
		s := &c.Gateway.BFF[0].Session
		s.Lifetime, s.IdleTimeout, s.GrantCheckInterval, s.SameSite, s.MaxSessions = time.Hour, 2*time.Hour, 2*time.Hour, "none", -1
	}},
	{"bff/session store", func(c *config.Config) { c.Gateway.BFF[0].Session.Store = "redis" }},
	// observability (observability.go)
	{"log/level", func(c *config.Config) { c.Log.Level = "verbose" }},
	{"tracing/endpoint missing", func(c *config.Config) { c.Tracing.Enabled = true }},
	{"tracing/endpoint bad, service name empty", func(c *config.Config) {
		c.Tracing.Enabled, c.Tracing.Endpoint, c.Tracing.ServiceName = true, "collector:4318", ""
	}},
	{"bff/session store unknown", func(c *config.Config) { c.Gateway.BFF[0].Session.Store = "disk" }},

	// mtls (mtls.go)
	{"mtls/client_ca_files", func(c *config.Config) { c.MTLS.ClientCAFiles = []string{""} }},
	{"mtls/off with settings", func(c *config.Config) {
		c.MTLS = config.MTLS{Listen: ":1", EndpointBaseURL: "https://x", ForwardedCertHeader: "X", ReloadInterval: time.Second}
	}},
	{"mtls/no tls", func(c *config.Config) {
		c.TLS = config.TLS{}
		c.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	}},
	{"mtls/listen bad", func(c *config.Config) { c.MTLS.Listen = "nope" }},
	{"mtls/listen same", func(c *config.Config) { c.MTLS.Listen, c.MTLS.EndpointBaseURL = c.Listen, "https://m.example" }},
	{"mtls/listen without tls", func(c *config.Config) {
		c.TLS = config.TLS{}
		c.MTLS.Listen, c.MTLS.ForwardedCertHeader = "127.0.0.1:9443", "X-Client-Cert"
		c.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	}},
	{"mtls/endpoint_base_url relative", func(c *config.Config) { c.MTLS.EndpointBaseURL = "m.example" }},
	{"mtls/endpoint_base_url http", func(c *config.Config) { c.MTLS.EndpointBaseURL = "http://m.example" }},
	{"mtls/endpoint_base_url query", func(c *config.Config) { c.MTLS.EndpointBaseURL = "https://m.example?q" }},
	{"mtls/endpoint_base_url slash", func(c *config.Config) { c.MTLS.EndpointBaseURL = "https://m.example/" }},
	{"mtls/forwarded_cert_header", func(c *config.Config) { c.MTLS.ForwardedCertHeader = "Bad:Name" }},
	{"mtls/reload_interval", func(c *config.Config) { c.MTLS.ReloadInterval = time.Millisecond }},
}

// TestValidationRules pins every rule of the client, gateway, route,
// gateway.mtls, gateway.bff and mtls validators: the complete, ordered
// error text of a configuration that breaks each. Regenerate with
// go test ./config -run TestValidationRules -update, and read the diff.
func TestValidationRules(t *testing.T) {
	env := func(k string) (string, bool) { return "s", k == "S" }
	if _, err := load("ward.yaml", rulesBase, env); err != nil {
		t.Fatalf("base: %v", err)
	}
	var got strings.Builder
	for _, tc := range ruleCases {
		c := config.Default()
		if err := c.Decode("ward.yaml", []byte(rulesBase)); err != nil {
			t.Fatal(err)
		}
		if err := c.ApplyEnv(env); err != nil {
			t.Fatal(err)
		}
		tc.breakIt(c)
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		got.WriteString("== " + tc.name + "\n" + err.Error() + "\n")
	}
	compareGolden(t, "testdata/rules.golden", got.String())
}

// decodeCases are files the decoder rejects, one rule each.
var decodeCases = []struct{ name, yaml string }{
	{"duration not a scalar", "tokens:\n  access_token_ttl: [1m]\n"},
	{"duration bad", "tokens:\n  code_ttl: soon\n"},
	{"text not a scalar", "gateway:\n  limits:\n    max_body_bytes: {a: 1}\n"},
	{"text bad", "gateway:\n  limits:\n    max_body_bytes: lots\n"},
	{"ratio bad", "tracing:\n  sample_ratio: 1.5\n"},
	{"prefix bad", "behind_tls_proxy:\n  trusted_proxies: [10.0.0.0/33, nope]\n"},
	{"string not a scalar", "issuer: [a]\nlisten: {a: b}\n"},
	{"bool bad", "par:\n  required: 1\nlogin: {}\n"},
	{"list expected", "clients: {id: a}\n"},
	{"mapping expected", "tokens: 5\nclients: [7]\n"},
	{"key not a string", "? [a]\n: 1\n"},
	{"unknown keys", "colour: blue\ntokens:\n  acess_token_ttl: 5m\ngateway: {routes: [{nme: x}]}\n"},
	{"duplicate key", "listen: :1\nlisten: :2\n"},
	{"jwks not JSON", "clients:\n  - jwks: {keys: [], 1: x}\n"},
	{"merge", "x: &t {access_token_ttl: bad}\ntokens:\n  <<: [*t]\n"},
	{"too many nodes", "clients: [" + strings.Repeat("{}, ", 100001) + "]\n"},
}

// TestDecodeErrors pins the decoder's messages: the complete, ordered
// error text of each file in decodeCases (testdata/decode.golden).
func TestDecodeErrors(t *testing.T) {
	var got strings.Builder
	for _, tc := range decodeCases {
		err := config.Default().Decode("ward.yaml", []byte(tc.yaml))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		got.WriteString("== " + tc.name + "\n" + err.Error() + "\n")
	}
	compareGolden(t, "testdata/decode.golden", got.String())
}

// compareGolden compares got with the golden file, rewritten by -update,
// and reports the first line that differs.
func compareGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *updateRules {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			g, w := "", ""
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("line %d differs from %s:\n got: %s\nwant: %s", i+1, golden, g, w)
			}
		}
	}
}
