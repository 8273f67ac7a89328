package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/wardauth/ward/oauth"
)

// clientTokenExchange checks a client's token_exchange policy against
// its grant_types and authentication method (docs/DELEGATION.md).
func (v *validator) clientTokenExchange(cl *Client, p func(string) string, grants []oauth.GrantType) {
	listed := slices.Contains(grants, oauth.GrantTokenExchange)
	te := cl.TokenExchange
	switch {
	case te == nil && listed:
		v.add(p("token_exchange"), ErrMissing, "required when grant_types lists %s", oauth.GrantTokenExchange)
		return
	case te == nil:
		return
	case !listed:
		v.add(p("grant_types"), ErrInvalidValue, "token_exchange is set: list %s in grant_types to enable it", oauth.GrantTokenExchange)
	}
	switch cl.AuthMethod {
	case oauth.AuthPrivateKeyJWT, oauth.AuthTLSClient, oauth.AuthSelfSignedTLSClient:
	default:
		v.add(p("auth_method"), ErrInvalidValue, "a client of the token exchange grant must authenticate with private_key_jwt, tls_client_auth or self_signed_tls_client_auth, not %q", cl.AuthMethod)
	}
	tp := func(k string) string { return p("token_exchange." + k) }
	v.exchangeURIs(tp("subject_audiences"), te.SubjectAudiences)
	v.exchangeURIs(tp("audiences"), te.Audiences)
	v.scopeTokens(tp("scopes"), te.Scopes)
	if te.MaxChainDepth > MaxTokenExchangeChainDepth {
		v.add(tp("max_chain_depth"), ErrInvalidValue, "must be between 1 and %d (0: the default, %d)", MaxTokenExchangeChainDepth, DefaultTokenExchangeChainDepth)
	}
}

// exchangeURIs checks a required list of absolute URIs without fragment
// (RFC 8707 §2).
func (v *validator) exchangeURIs(path string, list []string) {
	if len(list) == 0 {
		v.add(path, ErrMissing, "required: at least one absolute URI")
	}
	for j, a := range list {
		if u, err := url.Parse(a); err != nil || !u.IsAbs() || u.Fragment != "" {
			v.add(fmt.Sprintf("%s[%d]", path, j), ErrInvalidValue, "%q is not an absolute URI without fragment (RFC 8707 §2)", a)
		}
	}
}

// GatewayTokenExchange is the gateway's client for token exchange: it
// authenticates with private_key_jwt and binds exchanged tokens to a DPoP
// key it generates at start.
type GatewayTokenExchange struct {
	// ClientID the gateway authenticates as; empty: no exchange.
	ClientID string `yaml:"client_id"`
	// PrivateKeyFile holds a PKCS#8 PEM key (P-256, Ed25519 or RSA) for
	// its client assertions (RFC 7523).
	PrivateKeyFile string `yaml:"private_key_file"`
	// KeyID is the kid of the client assertions, when needed.
	KeyID string `yaml:"key_id"`
	// TokenEndpoint; default the gateway issuer's /token.
	TokenEndpoint string `yaml:"token_endpoint"`
}

// gatewayTokenExchange checks gateway.token_exchange.
func (v *validator) gatewayTokenExchange() {
	te := v.c.Gateway.TokenExchange
	if te.ClientID == "" {
		if te.PrivateKeyFile != "" || te.TokenEndpoint != "" {
			v.add("gateway.token_exchange.client_id", ErrMissing, "required with private_key_file or token_endpoint")
		}
		return
	}
	if te.PrivateKeyFile == "" {
		v.add("gateway.token_exchange.private_key_file", ErrMissing, "required: the key of the gateway's private_key_jwt client")
	}
	if te.TokenEndpoint != "" {
		if u, err := url.Parse(te.TokenEndpoint); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			v.add("gateway.token_exchange.token_endpoint", ErrInvalidValue, "%q is not an http(s) URL", te.TokenEndpoint)
		}
	}
}

// routeExchange checks a route's exchange setting.
func (v *validator) routeExchange(r *Route, p func(string) string) {
	x := r.Exchange
	if x == nil {
		return
	}
	if u, err := url.Parse(x.Audience); err != nil || !u.IsAbs() || u.Fragment != "" {
		v.add(p("exchange.audience"), ErrInvalidValue, "%q is not an absolute URI without fragment (RFC 8707 §2)", x.Audience)
	}
	for _, s := range strings.Fields(x.Scope) {
		if strings.ContainsAny(s, "\"\\") {
			v.add(p("exchange.scope"), ErrInvalidValue, "%q is not a scope token (RFC 6749 §3.3)", s)
		}
	}
	if r.ForwardAuthorization {
		v.add(p("forward_authorization"), ErrInvalidValue, "a route with exchange never forwards the caller's token")
	}
	if v.c.Gateway.MTLS.CertificateRoute(r.Name) {
		// A certificate-only route verifies no token: its Authorization
		// header would be exchanged unverified, without its holder's proof.
		v.add(p("exchange"), ErrInvalidValue, "route %q is in gateway.mtls.certificate_routes: it verifies no caller token to exchange", r.Name)
	}
	if v.c.Gateway.TokenExchange.ClientID == "" {
		v.add(p("exchange"), ErrMissing, "needs gateway.token_exchange.client_id: the gateway's client at the authorization server")
	}
}
