package server

import (
	"fmt"
	"io"
	"strings"

	"github.com/wardauth/ward/config"
)

// printBanner says what the process serves, and where.
func printBanner(w io.Writer, cfg *config.Config, p *process, l *listeners) {
	if cfg.Dev {
		fmt.Fprintf(w, "ward: DEV MODE — listening on loopback only; not for production.\n")
		printDevCredentials(w, cfg, p.creds)
	}
	if p.as != nil {
		fmt.Fprintf(w, "ward: authorization server %s (listening on %s)\n", cfg.Issuer, cfg.Listen)
		fmt.Fprintf(w, "ward:   metadata %s/.well-known/oauth-authorization-server\n", cfg.Issuer)
	} else {
		fmt.Fprintf(w, "ward: authorization server off (authorization_server.enabled: false); tokens of %s are checked\n", strings.Join(gatewayIssuers(cfg), ", "))
	}
	if p.gw != nil {
		fmt.Fprintf(w, "ward: gateway %s (listening on %s), admin (metrics, health) on http://%s\n", cfg.Gateway.PublicURL, cfg.Gateway.Listen, cfg.Gateway.AdminListen)
		if cfg.Dev {
			fmt.Fprintf(w, "ward:   demo API %s/demo/whoami (DPoP-bound token required), %s/demo/public (open)\n", cfg.Gateway.PublicURL, cfg.Gateway.PublicURL)
			fmt.Fprintf(w, "ward:   demo browser app %s (log in as the demo user; tokens stay in the gateway's BFF)\n", devGateway(cfg)+devAppPath)
		}
	}
	if l.mtls != nil {
		fmt.Fprintf(w, "ward: mTLS endpoints %s (listening on %s)\n", cfg.MTLS.EndpointBaseURL, cfg.MTLS.Listen)
	}
	if l.asAdmin != nil {
		fmt.Fprintf(w, "ward: admin (metrics, health) on http://%s\n", cfg.AdminListen)
	}
	if l.authorizer != nil {
		fmt.Fprintf(w, "ward: gateway forward-auth endpoint on http://%s%s\n", cfg.Gateway.Authorizer.Listen, cfg.Gateway.Authorizer.PathOrDefault())
	}
	if l.extAuthzSrv != nil {
		fmt.Fprintf(w, "ward: Envoy ext_authz (gRPC envoy.service.auth.v3.Authorization) on %s\n", l.extAuthz.Addr())
	}
}

// gatewayIssuers lists the issuers whose tokens the gateway checks:
// gateway.issuers, or the one-issuer shorthand.
func gatewayIssuers(cfg *config.Config) []string {
	if len(cfg.Gateway.Issuers) == 0 {
		return []string{cfg.GatewayIssuer()}
	}
	var out []string
	for _, is := range cfg.Gateway.Issuers {
		out = append(out, is.Issuer)
	}
	return out
}
