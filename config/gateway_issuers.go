package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// GatewayIssuer is one identity provider whose tokens the gateway
// accepts (gateway.issuers[], docs/INTEGRATIONS.md). A token's iss picks
// its entry before any key is fetched.
type GatewayIssuer struct {
	// Name is how routes (routes[].issuers) and logs refer to it.
	// Default: issuer.
	Name string `yaml:"name"`
	// Issuer is the issuer identifier, compared exactly with the tokens'
	// iss (Auth0's ends with "/"). Required.
	Issuer string `yaml:"issuer"`
	// Discovery finds its metadata: rfc8414 (default, /.well-known/
	// oauth-authorization-server) or oidc (/.well-known/
	// openid-configuration, Keycloak, Okta, Auth0, Entra).
	Discovery string `yaml:"discovery"`
	// JWKSURI, when set, is where its keys are fetched, without
	// discovery.
	JWKSURI string `yaml:"jwks_uri"`
	// TokenAlgorithms: its access-token signature allow-list. Default
	// gateway.token_algorithms; RSA providers need [RS256].
	TokenAlgorithms []string `yaml:"token_algorithms"`
	// Audience its tokens must carry, when it names this API otherwise
	// than gateway.audience (a route's audience still wins).
	Audience string `yaml:"audience"`
	// Profile of its access tokens: rfc9068 (default, typ at+jwt) or
	// legacy-jwt (typ JWT or none; see docs/INTEGRATIONS.md for the risk
	// it accepts).
	Profile string `yaml:"profile"`
	// Claims maps its claims onto the identity.
	Claims IssuerClaims `yaml:"claims"`
	// Introspection checks its opaque tokens (RFC 7662).
	Introspection IssuerIntrospection `yaml:"introspection"`
}

// IssuerClaims names the claims holding the subject, the client and the
// scopes; each list is tried in order.
type IssuerClaims struct {
	// Subject claim. Default sub.
	Subject string `yaml:"subject"`
	// Client claims. Default [client_id] (rfc9068), [client_id, azp, cid]
	// (legacy-jwt).
	Client []string `yaml:"client"`
	// Scopes claims, a space-separated string or an array. Default
	// [scope] (rfc9068), [scope, scp] (legacy-jwt).
	Scopes []string `yaml:"scopes"`
}

// IssuerIntrospection configures RFC 7662 introspection of an issuer's
// opaque tokens. It is on when client_id is set.
type IssuerIntrospection struct {
	// Endpoint; default the introspection_endpoint of its metadata.
	Endpoint string `yaml:"endpoint"`
	// ClientID the gateway authenticates as.
	ClientID string `yaml:"client_id"`
	// ClientSecretFile holds the secret (client_secret_basic).
	ClientSecretFile string `yaml:"client_secret_file"`
	// PrivateKeyFile holds a PKCS#8 PEM key (P-256, Ed25519 or RSA) for
	// private_key_jwt (RFC 7523) instead of a secret.
	PrivateKeyFile string `yaml:"private_key_file"`
	// KeyID is the kid of the client assertions, when the provider needs
	// one.
	KeyID string `yaml:"key_id"`
	// AssertionAudience is the client assertions' aud. Default the
	// endpoint URL.
	AssertionAudience string `yaml:"assertion_audience"`
	// SignedResponse asks for JWT introspection responses (RFC 9701)
	// and accepts only those signed by the issuer's keys for client_id.
	SignedResponse bool `yaml:"signed_response"`
}

// Enabled reports whether introspection is configured.
func (i IssuerIntrospection) Enabled() bool { return i.ClientID != "" }

// IssuerName is the name routes use for is.
func (is *GatewayIssuer) IssuerName() string {
	if is.Name != "" {
		return is.Name
	}
	return is.Issuer
}

// RouteIssuers returns the issuers route r accepts: those it names, or
// every configured one. With the one-issuer shorthand (gateway.issuer)
// the list is empty.
func (g *Gateway) RouteIssuers(r *Route) []*GatewayIssuer {
	var out []*GatewayIssuer
	for i := range g.Issuers {
		is := &g.Issuers[i]
		if len(r.Issuers) == 0 || slices.Contains(r.Issuers, is.IssuerName()) || slices.Contains(r.Issuers, is.Issuer) {
			out = append(out, is)
		}
	}
	return out
}

// gatewayIssuers checks gateway.issuers: not with gateway.issuer, and
// each issuer in turn (gatewayIssuer).
func (v *validator) gatewayIssuers() {
	g := &v.c.Gateway
	if len(g.Issuers) > 0 && g.Issuer != "" {
		v.add("gateway.issuer", ErrInvalidValue, "set gateway.issuer (one issuer) or gateway.issuers, not both")
	}
	if len(g.Issuers) > 0 && len(g.BFF) > 0 && v.c.Issuer == "" {
		v.add("issuer", ErrMissing, "required with gateway.issuers and gateway.bff: the BFF sites log in at the top-level issuer")
	}
	names, iss := map[string]bool{}, map[string]bool{}
	for i := range g.Issuers {
		v.gatewayIssuer(i, names, iss)
	}
}

// gatewayIssuer checks gateway.issuers[i]: its identifier and name
// (present, unique), then how its tokens are found and read.
func (v *validator) gatewayIssuer(i int, names, iss map[string]bool) {
	is := &v.c.Gateway.Issuers[i]
	p := func(k string) string { return fmt.Sprintf("gateway.issuers[%d].%s", i, k) }
	switch {
	case is.Issuer == "":
		v.add(p("issuer"), ErrMissing, "required (the identifier the tokens carry in iss)")
	case iss[is.Issuer]:
		v.add(p("issuer"), ErrInvalidValue, "%q is configured twice", is.Issuer)
	case names[is.Issuer]:
		// A route names issuers by name or identifier: each must pick one.
		v.add(p("issuer"), ErrInvalidValue, "%q is another issuer's name", is.Issuer)
	default:
		v.issuerURL(p("issuer"), is.Issuer)
	}
	iss[is.Issuer] = true
	if n := is.IssuerName(); names[n] || strings.ContainsAny(n, " \"\\\n") {
		v.add(p("name"), ErrInvalidValue, "%q is used twice or contains spaces or quotes", n)
	}
	if n := is.IssuerName(); n != is.Issuer && iss[n] && !names[n] {
		v.add(p("name"), ErrInvalidValue, "%q is another issuer's identifier", n)
	}
	names[is.IssuerName()] = true
	if is.Discovery != "" {
		v.oneOf(p("discovery"), is.Discovery, "rfc8414", "oidc")
	}
	if is.Profile != "" {
		v.oneOf(p("profile"), is.Profile, "rfc9068", "legacy-jwt")
	}
	if is.JWKSURI != "" {
		v.issuerURL(p("jwks_uri"), is.JWKSURI)
	}
	v.algorithms(p("token_algorithms"), is.TokenAlgorithms, true)
	for j, c := range append(append([]string{is.Claims.Subject}, is.Claims.Client...), is.Claims.Scopes...) {
		if c == "" && j > 0 {
			v.add(p("claims"), ErrInvalidValue, "claim names must not be empty")
		}
	}
	v.issuerIntrospection(p("introspection"), is.Introspection)
}

func (v *validator) issuerIntrospection(path string, in IssuerIntrospection) {
	if !in.Enabled() {
		if in != (IssuerIntrospection{}) {
			v.add(path+".client_id", ErrMissing, "required to introspect (the gateway's client at the issuer)")
		}
		return
	}
	if (in.ClientSecretFile == "") == (in.PrivateKeyFile == "") {
		v.add(path, ErrInvalidValue, "set exactly one of client_secret_file and private_key_file")
	}
	if in.Endpoint != "" {
		v.issuerURL(path+".endpoint", in.Endpoint)
	}
}

// issuerURL checks an identity provider's URL: absolute, https (http
// in dev mode), no query, fragment or user information.
func (v *validator) issuerURL(path, s string) {
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		v.add(path, ErrInvalidValue, "%q is not an absolute URL", s)
	case u.Scheme != "https" && !(v.c.Dev && u.Scheme == "http"):
		v.add(path, ErrInvalidValue, "%q must use https (http is allowed only in dev mode)", s)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil:
		v.add(path, ErrInvalidValue, "%q must not have a query, fragment or user information", s)
	}
}

// routeIssuers checks routes[i].issuers: each names a configured issuer,
// and a route accepts at most one issuer that introspects (an opaque
// token carries no iss, and is never sent to two providers).
func (v *validator) routeIssuers(i int) {
	g := &v.c.Gateway
	r := &g.Routes[i]
	for j, n := range r.Issuers {
		known := slices.ContainsFunc(g.Issuers, func(is GatewayIssuer) bool { return is.IssuerName() == n || is.Issuer == n })
		if len(g.Issuers) == 0 {
			known = n == v.c.GatewayIssuer()
		}
		if !known {
			v.add(fmt.Sprintf("gateway.routes[%d].issuers[%d]", i, j), ErrInvalidValue, "%q is not a configured issuer (gateway.issuers[].name or .issuer)", n)
		}
	}
	v.policyIssuers(i)
	introspecting := 0
	for _, is := range g.RouteIssuers(r) {
		if is.Introspection.Enabled() {
			introspecting++
		}
	}
	if introspecting > 1 {
		v.add(fmt.Sprintf("gateway.routes[%d].issuers", i), ErrInvalidValue, "the route accepts %d issuers that introspect opaque tokens: name at most one (an opaque token does not say its issuer)", introspecting)
	}
}

// policyIssuers checks routes[i].policy[].issuers: each is an issuer the
// route accepts; and on a route accepting several issuers, a rule naming
// client: or sub: principals says whose (client ids and subjects are
// names within one issuer: Keycloak's client "shop" is not Okta's).
func (v *validator) policyIssuers(i int) {
	g := &v.c.Gateway
	r := &g.Routes[i]
	accepted := g.RouteIssuers(r)
	for j, rule := range r.Policy {
		p := fmt.Sprintf("gateway.routes[%d].policy[%d]", i, j)
		for k, n := range rule.Issuers {
			ok := slices.ContainsFunc(accepted, func(is *GatewayIssuer) bool { return is.IssuerName() == n || is.Issuer == n })
			if len(g.Issuers) == 0 {
				ok = n == v.c.GatewayIssuer()
			}
			if !ok {
				v.add(fmt.Sprintf("%s.issuers[%d]", p, k), ErrInvalidValue, "%q is not an issuer this route accepts", n)
			}
		}
		if len(accepted) < 2 || len(rule.Issuers) > 0 {
			continue
		}
		for _, pr := range rule.Principals {
			if strings.HasPrefix(pr, "client:") || strings.HasPrefix(pr, "sub:") {
				v.add(p+".issuers", ErrMissing, "required: the route accepts %d issuers and %q names a client or subject, which is unique only within one issuer", len(accepted), pr)
				break
			}
		}
	}
}
