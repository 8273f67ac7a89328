package config

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// GatewayMTLS configures client certificates at the gateway (RFC 8705,
// docs/MTLS.md): certificate-bound access tokens (cnf.x5t#S256), SPIFFE
// workload identities usable as policy principals, and routes
// authenticated by the certificate alone. The zero value turns it off
// (the identity headers are still stripped from clients).
type GatewayMTLS struct {
	// ClientCAFiles are PEM bundles of the CAs client certificates must
	// chain to. With gateway.tls, the listener (TLS 1.3 only) asks for a
	// client certificate and verifies it when given; they also verify a
	// certificate forwarded by a trusted proxy. Reloaded when they change,
	// with the listener's certificate and key, without a restart.
	ClientCAFiles []string `yaml:"client_ca_files"`
	// RequireClientCert refuses TLS handshakes without a client
	// certificate (every caller is a workload). Needs gateway.tls.
	RequireClientCert bool `yaml:"require_client_cert"`
	// ReloadInterval: how often the certificate, key and CA files are
	// checked for changes. Default 30s; at least 1s.
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// ForwardedCertHeader is the header in which a TLS-terminating proxy
	// sends the client's certificate as URL-escaped PEM (nginx
	// $ssl_client_escaped_cert), e.g. X-Client-Cert. It is read only from
	// gateway.behind_tls_proxy.trusted_proxies, verified against
	// client_ca_files, removed from every other request and never
	// forwarded upstream. Empty: off.
	ForwardedCertHeader string `yaml:"forwarded_cert_header"`
	// SPIFFEIDHeader carries the caller's SPIFFE ID upstream. Default
	// X-Ward-SPIFFE-ID.
	SPIFFEIDHeader string `yaml:"spiffe_id_header"`
	// ThumbprintHeader carries the client certificate's x5t#S256 upstream.
	// Default X-Ward-Cert-Thumbprint.
	ThumbprintHeader string `yaml:"cert_thumbprint_header"`
	// CertificateRoutes names the routes that authenticate by client
	// certificate only, without any access token: the verified
	// certificate's SPIFFE ID is the identity, and every principal of
	// their policies must be a spiffe:// ID or prefix. Declared
	// explicitly, like unauthenticated routes.
	CertificateRoutes []string `yaml:"certificate_routes"`
}

// Defaults of GatewayMTLS.
const (
	DefaultSPIFFEIDHeader       = "X-Ward-SPIFFE-ID"
	DefaultThumbprintHeader     = "X-Ward-Cert-Thumbprint"
	DefaultMTLSReloadInterval   = 30 * time.Second
	minimumMTLSReloadInterval   = time.Second
	gatewayMTLSPath             = "gateway.mtls"
	gatewayMTLSCertificatePaths = gatewayMTLSPath + ".certificate_routes"
)

// Enabled reports whether client certificates are verified.
func (m *GatewayMTLS) Enabled() bool { return len(m.ClientCAFiles) > 0 }

// SPIFFEIDHeaderName is spiffe_id_header or its default.
func (m *GatewayMTLS) SPIFFEIDHeaderName() string {
	return orDefault(m.SPIFFEIDHeader, DefaultSPIFFEIDHeader)
}

// ThumbprintHeaderName is cert_thumbprint_header or its default.
func (m *GatewayMTLS) ThumbprintHeaderName() string {
	return orDefault(m.ThumbprintHeader, DefaultThumbprintHeader)
}

// Interval is reload_interval or its default.
func (m *GatewayMTLS) Interval() time.Duration {
	if m.ReloadInterval == 0 {
		return DefaultMTLSReloadInterval
	}
	return m.ReloadInterval
}

// CertificateRoute reports whether route name authenticates by client
// certificate only.
func (m *GatewayMTLS) CertificateRoute(name string) bool {
	return slices.Contains(m.CertificateRoutes, name)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// gatewayMTLS checks gateway.mtls as a list of rule groups, in the order
// their errors are reported.
func (v *validator) gatewayMTLS() {
	v.gatewayMTLSSources()
	v.gatewayMTLSHeaders()
	v.certificateRoutes()
}

// gatewayMTLSSources checks the CA files and that client certificates
// reach the gateway: its own TLS listener, a trusted proxy's header, or
// ext_authz.
func (v *validator) gatewayMTLSSources() {
	g := &v.c.Gateway
	m := &g.MTLS
	for i, f := range m.ClientCAFiles {
		if strings.TrimSpace(f) == "" {
			v.add(fmt.Sprintf("%s.client_ca_files[%d]", gatewayMTLSPath, i), ErrInvalidValue, "empty file name")
		}
	}
	if m.RequireClientCert && !m.Enabled() {
		v.add(gatewayMTLSPath+".require_client_cert", ErrMissing, "needs client_ca_files")
	}
	if m.Enabled() && !g.TLS.Enabled() && m.ForwardedCertHeader == "" && !g.ExtAuthz.Enabled() {
		v.add(gatewayMTLSPath+".client_ca_files", ErrInvalidValue, "used only with gateway.tls (the listener verifies client certificates), forwarded_cert_header (a trusted proxy forwards them) or ext_authz (Envoy forwards them)")
	}
	if m.RequireClientCert && !g.TLS.Enabled() {
		v.add(gatewayMTLSPath+".require_client_cert", ErrInvalidValue, "needs gateway.tls")
	}
	if m.ReloadInterval != 0 && m.ReloadInterval < minimumMTLSReloadInterval {
		v.add(gatewayMTLSPath+".reload_interval", ErrInvalidValue, "must be at least 1s (0: default 30s)")
	}
	if m.ForwardedCertHeader != "" {
		if !m.Enabled() {
			v.add(gatewayMTLSPath+".forwarded_cert_header", ErrMissing, "needs client_ca_files: a forwarded certificate is verified again")
		}
		if !g.BehindTLSProxy.Enabled() && !g.Authorizer.Enabled() {
			v.add(gatewayMTLSPath+".forwarded_cert_header", ErrMissing, "needs gateway.behind_tls_proxy.trusted_proxies or gateway.authorizer.trusted_proxies: the header is read only from those addresses")
		}
	}
}

// gatewayMTLSHeaders checks the certificate header names: valid, distinct
// from each other and from the identity headers, not reserved.
func (v *validator) gatewayMTLSHeaders() {
	g := &v.c.Gateway
	m := &g.MTLS
	ih := g.IdentityHeaders
	taken := map[string]bool{}
	for _, h := range []string{ih.Subject, ih.Client, ih.Scopes, ih.JKT, g.IdentityJWT.Header} {
		if h != "" {
			taken[http.CanonicalHeaderKey(h)] = true
		}
	}
	for _, h := range []struct{ path, name string }{
		{gatewayMTLSPath + ".spiffe_id_header", m.SPIFFEIDHeaderName()},
		{gatewayMTLSPath + ".cert_thumbprint_header", m.ThumbprintHeaderName()},
		{gatewayMTLSPath + ".forwarded_cert_header", m.ForwardedCertHeader},
	} {
		if h.name == "" {
			continue
		}
		canon := http.CanonicalHeaderKey(h.name)
		switch {
		case strings.ContainsAny(h.name, headerSeparators):
			v.add(h.path, ErrInvalidValue, "%q is not a header name", h.name)
		case taken[canon]:
			v.add(h.path, ErrInvalidValue, "%q is already used by another identity or certificate header", h.name)
		case reservedHeader(canon):
			v.add(h.path, ErrInvalidValue, "%q is reserved", h.name)
		}
		taken[canon] = true
	}
}

// certificateRoutes checks certificate_routes: each names one route, once,
// and needs the CA files that verify the certificate it authenticates by.
func (v *validator) certificateRoutes() {
	g := &v.c.Gateway
	m := &g.MTLS
	if len(m.CertificateRoutes) > 0 && !m.Enabled() {
		v.add(gatewayMTLSCertificatePaths, ErrMissing, "needs client_ca_files: the certificate is the identity")
	}
	seen := map[string]bool{}
	for i, name := range m.CertificateRoutes {
		p := fmt.Sprintf("%s[%d]", gatewayMTLSCertificatePaths, i)
		j := slices.IndexFunc(g.Routes, func(r Route) bool { return r.Name == name })
		switch {
		case seen[name]:
			v.add(p, ErrInvalidValue, "route %q is listed twice", name)
			continue
		case j < 0:
			v.add(p, ErrInvalidValue, "no route is named %q", name)
			continue
		}
		seen[name] = true
		v.certificateRoute(j)
	}
}

// certificateRoute checks gateway.routes[j], a certificate-only route: no
// token settings, and a policy over spiffe:// principals only.
func (v *validator) certificateRoute(j int) {
	r := &v.c.Gateway.Routes[j]
	rp := fmt.Sprintf("gateway.routes[%d]", j)
	if r.Unauthenticated || r.AllowBearer || len(r.Scopes) > 0 || r.Audience != "" || r.ForwardAuthorization {
		v.add(rp, ErrInvalidValue, "route %q authenticates by certificate only (%s): remove unauthenticated, allow_bearer, scopes, audience and forward_authorization", r.Name, gatewayMTLSCertificatePaths)
	}
	for k, rule := range r.Policy {
		if len(rule.Scopes) > 0 {
			v.add(fmt.Sprintf("%s.policy[%d].scopes", rp, k), ErrInvalidValue, "a certificate-only route has no token, hence no scopes")
		}
		for l, pr := range rule.Principals {
			if !strings.HasPrefix(pr, "spiffe://") {
				v.add(fmt.Sprintf("%s.policy[%d].principals[%d]", rp, k, l), ErrInvalidValue, "%q: a certificate-only route's principals are spiffe:// IDs or prefixes", pr)
			}
		}
		if rule.Action == "allow" && len(rule.Principals) == 0 {
			v.add(fmt.Sprintf("%s.policy[%d].principals", rp, k), ErrMissing, "an allow rule of a certificate-only route must name its spiffe:// principals")
		}
	}
}
