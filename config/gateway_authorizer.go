package config

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/wardauth/ward/policy"
)

// Authorizer is the gateway's forward-auth endpoint
// (docs/INTEGRATIONS.md): nginx auth_request, Caddy forward_auth, Traefik
// ForwardAuth and Envoy's HTTP ext_authz ask it whether a request may
// pass, and it answers with the gateway's decision.
type Authorizer struct {
	// TrustedProxies are the proxies that may call the endpoint; their
	// X-Original-* and X-Forwarded-* headers are believed, and any other
	// peer is refused (403). Setting them turns the endpoint on.
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies"`
	// Listen, when set, serves the endpoint on its own address;
	// otherwise it is served at Path on gateway.listen.
	Listen string `yaml:"listen"`
	// Path of the endpoint. Default /_ward/authorize. Below it, Envoy's
	// HTTP ext_authz appends the original path (path_prefix).
	Path string `yaml:"path"`
}

// DefaultAuthorizerPath is gateway.authorizer.path's default.
const DefaultAuthorizerPath = "/_ward/authorize"

// Enabled reports whether the forward-auth endpoint is on.
func (a Authorizer) Enabled() bool { return len(a.TrustedProxies) > 0 }

// PathOrDefault is Path, or DefaultAuthorizerPath.
func (a Authorizer) PathOrDefault() string {
	if a.Path == "" {
		return DefaultAuthorizerPath
	}
	return a.Path
}

const authorizerPath = "gateway.authorizer"

func (v *validator) gatewayAuthorizer() {
	g := &v.c.Gateway
	a := &g.Authorizer
	if !a.Enabled() {
		if a.Listen != "" || a.Path != "" {
			v.add(authorizerPath+".trusted_proxies", ErrMissing, "required to turn the endpoint on: only these proxies may call it")
		}
		return
	}
	for i, p := range a.TrustedProxies {
		if !p.IsValid() || p != p.Masked() {
			v.add(fmt.Sprintf("%s.trusted_proxies[%d]", authorizerPath, i), ErrInvalidValue, "%q is not a network address (write %s)", p, p.Masked())
		}
	}
	if a.Listen != "" {
		if _, port, err := net.SplitHostPort(a.Listen); err != nil || port == "" {
			v.add(authorizerPath+".listen", ErrInvalidValue, "%q is not a host:port address", a.Listen)
		} else if a.Listen == g.Listen || a.Listen == g.AdminListen {
			v.add(authorizerPath+".listen", ErrInvalidValue, "must differ from gateway.listen and gateway.admin_listen (leave it empty to serve the endpoint at path on gateway.listen)")
		}
	}
	if p := a.PathOrDefault(); p == "/" {
		v.add(authorizerPath+".path", ErrInvalidValue, "must be below /")
	} else if c, err := policy.CleanPath(p); err != nil || c != p {
		v.add(authorizerPath+".path", ErrInvalidValue, "%q is not a clean path", p)
	}
}
