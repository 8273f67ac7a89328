package config

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wardauth/ward/policy"
)

// Gateway configures the zero-trust gateway (package gateway): a reverse
// proxy that checks every request's token and DPoP proof, applies each
// route's policy and passes the verified identity to the upstream. Routes
// and policies can be reloaded without a restart; the listeners, TLS and
// issuer cannot.
type Gateway struct {
	// Enabled starts the gateway with the server.
	Enabled bool `yaml:"enabled"`
	// Listen is the gateway's address. Default 127.0.0.1:9001.
	Listen string `yaml:"listen"`
	// AdminListen serves /metrics, /healthz and /readyz. Default
	// 127.0.0.1:9002. Never expose it publicly.
	AdminListen string `yaml:"admin_listen"`
	// TLS makes the listener serve TLS 1.3 only.
	TLS TLS `yaml:"tls"`
	// BehindTLSProxy: forwarded headers are trusted only from these
	// networks, to rebuild the URL a DPoP proof's htu is compared with.
	BehindTLSProxy Proxy `yaml:"behind_tls_proxy"`
	// PublicURL is the scheme and host clients use (https://api.example),
	// compared with proofs' htu. Optional with several hosts behind a
	// trusted proxy.
	PublicURL string `yaml:"public_url"`
	// Issuer whose tokens are accepted. Default: the top-level issuer.
	// The one-issuer shorthand of Issuers.
	Issuer string `yaml:"issuer"`
	// Issuers whose tokens are accepted, each with its key discovery,
	// algorithms, profile, claim mapping and introspection
	// (gateway_issuers.go, docs/INTEGRATIONS.md). Set issuer or issuers.
	Issuers []GatewayIssuer `yaml:"issuers"`
	// Audience is the resource identifier tokens must carry in aud.
	// Default: public_url. A route may override it.
	Audience string `yaml:"audience"`
	// TokenAlgorithms: access-token signature allow-list. Default
	// [ES256, EdDSA].
	TokenAlgorithms []string `yaml:"token_algorithms"`
	// DPoPAlgorithms: proof signature allow-list. Default [ES256, EdDSA].
	DPoPAlgorithms []string `yaml:"dpop_algorithms"`
	// Leeway for token exp/nbf/iat. Default 10s, at most 5m.
	Leeway time.Duration `yaml:"leeway"`
	// IdentityHeaders name the headers carrying the verified identity to
	// upstreams; any of them sent by a client is removed first.
	IdentityHeaders IdentityHeaders `yaml:"identity_headers"`
	// IdentityJWT, when its header is set, also sends the identity as a
	// short-lived JWT signed by the gateway, which upstreams can verify
	// with the JWKS served on the admin listener.
	IdentityJWT IdentityJWT `yaml:"identity_jwt"`
	// TokenExchange is the gateway's own client at the authorization
	// server, for the routes with exchange (docs/DELEGATION.md).
	TokenExchange GatewayTokenExchange `yaml:"token_exchange"`
	// SecurityHeaders added to every response.
	SecurityHeaders SecurityHeaders `yaml:"security_headers"`
	Limits          GatewayLimits   `yaml:"limits"`
	Timeouts        GatewayTimeouts `yaml:"timeouts"`
	// AccessLog logs every request the gateway lets through (allowed,
	// public, mount) at INFO, with the log keys of docs/ARCHITECTURE.md
	// and never a token (docs/OBSERVABILITY.md). Refusals are logged
	// whatever it says.
	AccessLog bool `yaml:"access_log"`
	// RateLimits of every route (each route counts apart), by tier; a
	// route's own rate_limits override them tier by tier (ratelimit.go).
	RateLimits RateTiers `yaml:"rate_limits"`
	// Routes, matched by host then longest path prefix.
	Routes []Route `yaml:"routes"`
	// MTLS: client certificates, certificate-bound tokens and SPIFFE
	// identities (gateway_mtls.go, docs/MTLS.md).
	MTLS GatewayMTLS `yaml:"mtls"`
	// BFF sites: backend-for-frontend endpoints for browser apps that
	// never hold a token (bff.go, docs/BFF.md).
	BFF []BFF `yaml:"bff"`
	// Authorizer is the forward-auth endpoint for proxies and meshes
	// (gateway_authorizer.go, docs/INTEGRATIONS.md).
	Authorizer Authorizer `yaml:"authorizer"`
	// ExtAuthz serves the gateway's decision to Envoy over gRPC
	// (gateway_extauthz.go, docs/INTEGRATIONS.md).
	ExtAuthz ExtAuthz `yaml:"ext_authz"`
	// Revocations: the revocation feed (gateway_revocations.go).
	Revocations GatewayRevocations `yaml:"revocations"`
}

// IdentityHeaders are the names of the identity headers sent upstream.
type IdentityHeaders struct {
	Subject string `yaml:"subject"` // default X-Ward-Subject
	Client  string `yaml:"client"`  // default X-Ward-Client
	Scopes  string `yaml:"scopes"`  // default X-Ward-Scopes
	JKT     string `yaml:"jkt"`     // default X-Ward-JKT
}

// IdentityJWT configures the signed identity sent upstream.
type IdentityJWT struct {
	// Header carrying the JWT, e.g. X-Ward-Identity; empty turns it off.
	Header string `yaml:"header"`
	// TTL of each JWT. Default 60s, at most 5m.
	TTL time.Duration `yaml:"ttl"`
	// KeyFile holds the ES256 (P-256) signing key as PKCS#8 PEM, shared by
	// every instance; empty generates a key at start (one instance, or
	// upstreams that fetch the JWKS of each).
	KeyFile string `yaml:"key_file"`
}

// SecurityHeaders are added to every response; an empty value keeps the
// default, "off" removes the header.
type SecurityHeaders struct {
	// HSTS: Strict-Transport-Security, sent on TLS or https public_url.
	// Default "max-age=63072000; includeSubDomains".
	HSTS string `yaml:"hsts"`
	// CSP: Content-Security-Policy for HTML responses that set none.
	// Default "default-src 'self'; frame-ancestors 'none'; base-uri 'none'".
	CSP string `yaml:"csp"`
	// ReferrerPolicy. Default "no-referrer".
	ReferrerPolicy string `yaml:"referrer_policy"`
}

// GatewayLimits bound requests.
type GatewayLimits struct {
	// MaxHeaderBytes: request line and headers. Default 32KiB.
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes"`
	// MaxBodyBytes: request body. Default 10MiB.
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	// MaxConnections: open client connections at once; more wait in the
	// kernel's accept queue. Default 10000.
	MaxConnections Count `yaml:"max_connections"`
}

// GatewayTimeouts of the listener and the upstream calls.
type GatewayTimeouts struct {
	ReadHeader time.Duration `yaml:"read_header"` // default 5s
	Read       time.Duration `yaml:"read"`        // default 30s
	Write      time.Duration `yaml:"write"`       // default 60s
	Idle       time.Duration `yaml:"idle"`        // default 120s
	Upstream   time.Duration `yaml:"upstream"`    // response headers from upstream; default 30s
	Shutdown   time.Duration `yaml:"shutdown"`    // drain in-flight requests; default 30s
}

// Route sends requests for a host and path prefix to an upstream.
type Route struct {
	// Name labels metrics and logs; unique, required.
	Name string `yaml:"name"`
	// Host, when set, must equal the request's host (without port).
	Host string `yaml:"host"`
	// PathPrefix, "/" or a clean path such as /api/ or /api: matches the
	// path itself and everything below it. Default "/".
	PathPrefix string `yaml:"path_prefix"`
	// Upstream is an http(s) URL, or builtin:demo for the demo API.
	Upstream string `yaml:"upstream"`
	// StripPrefix removes PathPrefix before forwarding.
	StripPrefix bool `yaml:"strip_prefix"`
	// Unauthenticated routes are proxied without any token check; they
	// must be declared so explicitly and cannot have a policy.
	Unauthenticated bool `yaml:"unauthenticated"`
	// AllowBearer accepts unbound bearer tokens on this route.
	AllowBearer bool `yaml:"allow_bearer"`
	// Audience overrides gateway.audience for this route.
	Audience string `yaml:"audience"`
	// Scopes every request on the route needs.
	Scopes []string `yaml:"scopes"`
	// Issuers whose tokens the route accepts, by gateway.issuers[].name or
	// issuer identifier. Default: every configured issuer.
	Issuers []string `yaml:"issuers"`
	// ForwardAuthorization passes the Authorization and DPoP headers to
	// the upstream (they are removed by default).
	ForwardAuthorization bool `yaml:"forward_authorization"`
	// AllowUnderscoreHeaders forwards the client's header names that
	// contain an underscore; they are dropped by default (CGI, PHP-FPM,
	// WSGI and Rack read X_Ward_Subject as X-Ward-Subject). Even then a
	// name that folds (_ as -, any case) to a header the gateway sets,
	// strips or reserves is dropped.
	AllowUnderscoreHeaders bool `yaml:"allow_underscore_headers"`
	// Policy rules: deny wins, and a request no allow rule matches is
	// refused. An authenticated route needs at least one allow rule.
	Policy []PolicyRule `yaml:"policy"`
	// RateLimits override gateway.rate_limits for this route, by tier.
	RateLimits RateTiers `yaml:"rate_limits"`
	// Exchange, when set, makes the gateway exchange the caller's token
	// for one aimed at the upstream (RFC 8693, docs/DELEGATION.md)
	// and forward that instead; the caller's token never reaches it.
	Exchange *RouteExchange `yaml:"exchange"`
}

// CacheKey identifies what an exchange asks for, for the gateway's cache
// of exchanged tokens.
func (x *RouteExchange) CacheKey() string { return x.Audience + "\x00" + x.Scope }

// RouteExchange is a route's token exchange: the audience (an absolute
// URI, the upstream's resource identifier) and the scope of the token the
// upstream receives.
type RouteExchange struct {
	Audience string `yaml:"audience"`
	// Scope narrows the exchanged token; empty: what the caller's token
	// and the gateway's policy at the authorization server both hold.
	Scope string `yaml:"scope"`
}

// PolicyRule is a policy.Rule in the file.
type PolicyRule struct {
	Name       string   `yaml:"name"`
	Action     string   `yaml:"action"` // allow or deny
	Principals []string `yaml:"principals"`
	Methods    []string `yaml:"methods"`
	Paths      []string `yaml:"paths"`
	Scopes     []string `yaml:"scopes"`
	// Issuers (gateway.issuers[].name or identifier) whose tokens the
	// rule applies to; empty: any. Required for client: and sub:
	// principals on a route that accepts several issuers.
	Issuers []string `yaml:"issuers"`
}

// Rule converts r to a policy.Rule; its issuers stay as written (see
// Gateway.PolicyRule).
func (r PolicyRule) Rule() policy.Rule {
	return policy.Rule{Name: r.Name, Action: policy.Action(r.Action), Principals: r.Principals, Methods: r.Methods, Paths: r.Paths, Scopes: r.Scopes, Issuers: r.Issuers}
}

// PolicyRule converts r to a policy.Rule whose issuers are issuer
// identifiers (the iss of tokens), names resolved.
func (g *Gateway) PolicyRule(r PolicyRule) policy.Rule {
	pr := r.Rule()
	if len(r.Issuers) > 0 {
		pr.Issuers = make([]string, len(r.Issuers))
		for i, n := range r.Issuers {
			pr.Issuers[i] = n
			for _, is := range g.Issuers {
				if is.IssuerName() == n {
					pr.Issuers[i] = is.Issuer
				}
			}
		}
	}
	return pr
}

// ByteSize is a size in bytes, written 65536, 64KiB, 10MiB or 1GiB.
type ByteSize int64

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(n), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return errors.New("not a size such as 65536, 64KiB or 10MiB")
	}
	*b = ByteSize(n * mult)
	return nil
}

// DefaultGateway returns the gateway defaults (disabled, no routes).
func DefaultGateway() Gateway {
	return Gateway{
		Listen:          "127.0.0.1:9001",
		AdminListen:     "127.0.0.1:9002",
		TokenAlgorithms: []string{"ES256", "EdDSA"},
		DPoPAlgorithms:  []string{"ES256", "EdDSA"},
		Leeway:          10 * time.Second,
		IdentityHeaders: IdentityHeaders{Subject: "X-Ward-Subject", Client: "X-Ward-Client", Scopes: "X-Ward-Scopes", JKT: "X-Ward-JKT"},
		SecurityHeaders: SecurityHeaders{
			HSTS:           "max-age=63072000; includeSubDomains",
			CSP:            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
			ReferrerPolicy: "no-referrer",
		},
		Limits: GatewayLimits{MaxHeaderBytes: 32 << 10, MaxBodyBytes: 10 << 20, MaxConnections: 10000},
		Timeouts: GatewayTimeouts{
			ReadHeader: 5 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second,
			Idle: 120 * time.Second, Upstream: 30 * time.Second, Shutdown: 30 * time.Second,
		},
	}
}

// GatewayIssuer is gateway.issuer, or the top-level issuer.
func (c *Config) GatewayIssuer() string {
	if c.Gateway.Issuer != "" {
		return c.Gateway.Issuer
	}
	return c.Issuer
}

// RouteAudience returns the audience in effect for route r.
func (g *Gateway) RouteAudience(r *Route) string {
	switch {
	case r.Audience != "":
		return r.Audience
	case g.Audience != "":
		return g.Audience
	}
	return g.PublicURL
}

// ValidateGateway checks the gateway section alone, for a reload. Errors
// name the key and line like Validate's.
func (c *Config) ValidateGateway() error {
	v := &validator{c: c}
	v.gateway()
	return errors.Join(v.errs...)
}

// BuiltinDemo is the upstream of the built-in demo API.
const BuiltinDemo = "builtin:demo"

// BuiltinDemoApp is the upstream of the built-in demo single-page app,
// which logs in through a BFF site (docs/BFF.md).
const BuiltinDemoApp = "builtin:demo-app"

// gateway checks the gateway section as a list of rule groups, in the
// order their errors are reported.
func (v *validator) gateway() {
	v.gatewayExtAuthz()
	g := &v.c.Gateway
	if !g.Enabled {
		return
	}
	v.gatewayListeners()
	v.gatewayPublicURL()
	v.gatewayTokens()
	v.gatewayIdentityHeaders()
	v.gatewayLimits()
	if len(g.Routes) == 0 {
		v.add("gateway.routes", ErrMissing, "at least one route is required")
	}
	names := map[string]bool{}
	for i := range g.Routes {
		v.route(i, names)
	}
	v.gatewayRateLimits()
	v.gatewayMTLS()
	v.gatewayAuthorizer()  // gateway_authorizer.go
	v.bffSites()           // bff.go
	v.gatewayRevocations() // gateway_revocations.go
	v.gatewayTokenExchange()
}

// gatewayListeners checks the listen addresses, TLS and trusted proxies.
func (v *validator) gatewayListeners() {
	g := &v.c.Gateway
	for _, k := range []struct{ path, addr string }{{"gateway.listen", g.Listen}, {"gateway.admin_listen", g.AdminListen}} {
		if _, port, err := net.SplitHostPort(k.addr); err != nil || port == "" {
			v.add(k.path, ErrInvalidValue, "%q is not a host:port address", k.addr)
		}
	}
	if g.Listen == g.AdminListen {
		v.add("gateway.admin_listen", ErrInvalidValue, "must differ from gateway.listen: metrics are never served on the public listener")
	}
	if g.TLS.Enabled() && (g.TLS.CertFile == "" || g.TLS.KeyFile == "") {
		v.add("gateway.tls", ErrMissing, "cert_file and key_file are both required")
	}
	for i, p := range g.BehindTLSProxy.TrustedProxies {
		if !p.IsValid() || p != p.Masked() {
			v.add(fmt.Sprintf("gateway.behind_tls_proxy.trusted_proxies[%d]", i), ErrInvalidValue, "%q is not a network address (write %s)", p, p.Masked())
		}
	}
}

// gatewayPublicURL checks public_url: an origin, https outside dev mode,
// required unless a trusted proxy says which URL the client used.
func (v *validator) gatewayPublicURL() {
	g := &v.c.Gateway
	if g.PublicURL == "" {
		if !g.BehindTLSProxy.Enabled() && !v.c.Dev {
			v.add("gateway.public_url", ErrMissing, "required (the URL clients use, compared with DPoP proofs) unless behind_tls_proxy.trusted_proxies is set")
		}
		return
	}
	u, err := url.Parse(g.PublicURL)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		v.add("gateway.public_url", ErrInvalidValue, "%q must be a scheme and host such as https://api.example.com", g.PublicURL)
	case u.Scheme != "https" && !(v.c.Dev && u.Scheme == "http"):
		v.add("gateway.public_url", ErrInvalidValue, "%q must use https (http is allowed only in dev mode)", g.PublicURL)
	}
}

// gatewayTokens checks what the gateway accepts in a token: its issuers,
// signature algorithms and clock leeway.
func (v *validator) gatewayTokens() {
	g := &v.c.Gateway
	if v.c.GatewayIssuer() == "" && len(g.Issuers) == 0 {
		v.add("gateway.issuer", ErrMissing, "required when there is no top-level issuer (or set gateway.issuers)")
	}
	v.gatewayIssuers() // gateway_issuers.go
	v.algorithms("gateway.token_algorithms", g.TokenAlgorithms, false)
	v.algorithms("gateway.dpop_algorithms", g.DPoPAlgorithms, false)
	if g.Leeway < 0 || g.Leeway > 5*time.Minute {
		v.add("gateway.leeway", ErrInvalidValue, "must be between 0 and 5m")
	}
}

// gatewayIdentityHeaders checks the headers that carry the verified
// identity upstream: valid, distinct, not reserved; and the identity
// JWT's lifetime.
func (v *validator) gatewayIdentityHeaders() {
	g := &v.c.Gateway
	ih := g.IdentityHeaders
	seen := map[string]bool{}
	for _, h := range []struct{ path, name string }{
		{"gateway.identity_headers.subject", ih.Subject}, {"gateway.identity_headers.client", ih.Client},
		{"gateway.identity_headers.scopes", ih.Scopes}, {"gateway.identity_headers.jkt", ih.JKT},
		{"gateway.identity_jwt.header", g.IdentityJWT.Header},
	} {
		canon := http.CanonicalHeaderKey(h.name)
		switch {
		case h.name == "" && h.path == "gateway.identity_jwt.header":
			continue // off
		case h.name == "" || strings.ContainsAny(h.name, headerSeparators):
			v.add(h.path, ErrInvalidValue, "%q is not a header name", h.name)
		case seen[canon]:
			v.add(h.path, ErrInvalidValue, "%q is used twice", h.name)
		case reservedHeader(canon):
			v.add(h.path, ErrInvalidValue, "%q is reserved", h.name)
		}
		seen[canon] = true
	}
	if g.IdentityJWT.TTL < 0 || g.IdentityJWT.TTL > 5*time.Minute {
		v.add("gateway.identity_jwt.ttl", ErrInvalidValue, "must be between 0 (default 60s) and 5m")
	}
}

// headerSeparators are the characters a header name given in the
// configuration must not contain.
const headerSeparators = " \t:()<>@,;\\\"/[]?={}"

// reservedHeader reports whether canon (canonical form) is a header the
// gateway or the proxies in front of it own, which no identity or
// certificate header may overwrite.
func reservedHeader(canon string) bool {
	return canon == "Authorization" || canon == "Dpop" || canon == "Host" || canon == "Cookie" || strings.HasPrefix(canon, "X-Forwarded-")
}

// gatewayLimits checks the size, connection and time limits.
func (v *validator) gatewayLimits() {
	g := &v.c.Gateway
	l := g.Limits
	for _, r := range []struct {
		path string
		bad  bool
		msg  string
	}{
		{"gateway.limits.max_header_bytes", l.MaxHeaderBytes < 1024 || l.MaxHeaderBytes > 1<<20, "must be between 1KiB and 1MiB"},
		{"gateway.limits.max_connections", l.MaxConnections < 1, "must be at least 1"},
		{"gateway.limits.max_body_bytes", l.MaxBodyBytes <= 0, "must be positive"},
	} {
		if r.bad {
			v.add(r.path, ErrInvalidValue, "%s", r.msg)
		}
	}
	t := g.Timeouts
	for _, d := range []struct {
		path string
		d    time.Duration
	}{
		{"gateway.timeouts.read_header", t.ReadHeader}, {"gateway.timeouts.read", t.Read},
		{"gateway.timeouts.write", t.Write}, {"gateway.timeouts.idle", t.Idle},
		{"gateway.timeouts.upstream", t.Upstream}, {"gateway.timeouts.shutdown", t.Shutdown},
	} {
		v.positive(d.path, d.d, 0)
	}
}

// algorithms checks a signature allow-list: asymmetric algorithms only.
func (v *validator) algorithms(path string, algs []string, optional bool) {
	if len(algs) == 0 && !optional {
		v.add(path, ErrMissing, "at least one algorithm is required")
	}
	for i, a := range algs {
		p := fmt.Sprintf("%s[%d]", path, i)
		if a == "none" || strings.HasPrefix(a, "HS") {
			v.add(p, ErrInvalidValue, "%q is not allowed: only asymmetric signatures (RFC 8725 §3.1, RFC 9449 §4.2)", a)
			continue
		}
		v.oneOf(p, a, dpopAlgs...)
	}
}

// route checks gateway.routes[i] as a list of rule groups, in the order
// their errors are reported.
func (v *validator) route(i int, names map[string]bool) {
	g := &v.c.Gateway
	r := &g.Routes[i]
	p := func(k string) string { return fmt.Sprintf("gateway.routes[%d].%s", i, k) }
	v.routeName(r, p, names)
	v.routeMatch(r, p)
	v.routeUpstream(r, p)
	if r.Unauthenticated {
		if len(r.Policy) > 0 || len(r.Scopes) > 0 || r.AllowBearer || r.Audience != "" || r.Exchange != nil {
			v.add(p("unauthenticated"), ErrInvalidValue, "an unauthenticated route checks no token: remove policy, scopes, allow_bearer, audience and exchange")
		} else if len(r.Issuers) > 0 {
			v.add(p("issuers"), ErrInvalidValue, "an unauthenticated route checks no token: remove issuers")
		}
		return
	}
	v.routeExchange(r, p)
	v.routeIssuers(i) // gateway_issuers.go
	if g.RouteAudience(r) == "" {
		v.add(p("audience"), ErrMissing, "required when gateway.audience and gateway.public_url are empty")
	}
	v.scopeTokens(p("scopes"), r.Scopes)
	v.routePolicy(r, p)
}

// routeName checks the name: present, unique, fit for a metric label.
func (v *validator) routeName(r *Route, p func(string) string, names map[string]bool) {
	switch {
	case r.Name == "":
		v.add(p("name"), ErrMissing, "required (it labels metrics and logs)")
	case names[r.Name]:
		v.add(p("name"), ErrInvalidValue, "duplicate route name %q", r.Name)
	case strings.ContainsAny(r.Name, " \"\\\n"):
		v.add(p("name"), ErrInvalidValue, "%q must not contain spaces or quotes", r.Name)
	}
	names[r.Name] = true
}

// routeMatch checks what a request is matched on: host and path prefix,
// each in the one form the matcher compares.
func (v *validator) routeMatch(r *Route, p func(string) string) {
	if r.Host != "" && (strings.ContainsAny(r.Host, "/:@ ") || strings.ToLower(r.Host) != r.Host) {
		v.add(p("host"), ErrInvalidValue, "%q must be a lower-case host name without port", r.Host)
	}
	if r.PathPrefix != "" && r.PathPrefix != "/" {
		clean, err := policy.CleanPath(r.PathPrefix)
		if err != nil || clean != r.PathPrefix {
			v.add(p("path_prefix"), ErrInvalidValue, "%q must be a clean path such as /api/ (no dot segments, //, or percent-encoding)", r.PathPrefix)
		}
	}
}

// routeUpstream checks the upstream: a built-in, or an http(s) URL with
// nothing the proxy would have to drop.
func (v *validator) routeUpstream(r *Route, p func(string) string) {
	if r.Upstream == BuiltinDemo || r.Upstream == BuiltinDemoApp {
		return
	}
	u, err := url.Parse(r.Upstream)
	switch {
	case r.Upstream == "":
		v.add(p("upstream"), ErrMissing, "required (an http or https URL, or %s)", BuiltinDemo)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		v.add(p("upstream"), ErrInvalidValue, "%q must be an http or https URL without query, fragment or credentials, or %s", r.Upstream, BuiltinDemo)
	}
}

// routePolicy checks each policy rule as package policy compiles it, and
// that an authenticated route allows something (default deny).
func (v *validator) routePolicy(r *Route, p func(string) string) {
	allow := false
	for j, rule := range r.Policy {
		if _, err := policy.New([]policy.Rule{rule.Rule()}); err != nil {
			msg := err.Error()
			if _, after, ok := strings.Cut(msg, ": rule #0: "); ok {
				msg = after
			} else if _, after, ok := strings.Cut(msg, fmt.Sprintf(": rule %q: ", rule.Name)); ok {
				msg = after
			}
			v.add(fmt.Sprintf("%s[%d]", p("policy"), j), ErrInvalidValue, "%s", msg)
		}
		allow = allow || rule.Action == "allow"
	}
	if !allow {
		v.add(p("policy"), ErrMissing, "an authenticated route needs at least one allow rule (default deny), e.g. {action: allow, principals: [\"*\"]}")
	}
}
