package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ExtAuthz serves the gateway's decision to Envoy (and Istio) over gRPC:
// envoy.service.auth.v3.Authorization/Check (package extauthz,
// docs/INTEGRATIONS.md). Envoy reports the client's address and
// certificate, and Ward believes it, so whoever may connect is trusted:
// plaintext is served on loopback only unless trusted_peers or
// client_ca_files say who else may ask. The zero value (no listen) is off.
type ExtAuthz struct {
	// Listen is the gRPC listener's address, e.g. 127.0.0.1:9191. Empty:
	// off.
	Listen string `yaml:"listen"`
	// TLS makes the listener serve TLS 1.3 only (HTTP/2 over TLS).
	TLS TLS `yaml:"tls"`
	// ClientCAFiles, with tls, require every caller (Envoy) to present a
	// client certificate chaining to one of these PEM bundles.
	ClientCAFiles []string `yaml:"client_ca_files"`
	// TrustedPeers are the networks whose connections are served; others
	// are closed at once. Default: loopback only, or any address when
	// client_ca_files authenticate the callers.
	TrustedPeers []netip.Prefix `yaml:"trusted_peers"`
}

const gatewayExtAuthzPath = "gateway.ext_authz"

// Enabled reports whether the ext_authz listener is configured.
func (e *ExtAuthz) Enabled() bool { return e.Listen != "" }

// Peers returns trusted_peers or its default: nil (any address) when
// client certificates authenticate the callers, else loopback.
func (e *ExtAuthz) Peers() []netip.Prefix {
	switch {
	case len(e.TrustedPeers) > 0:
		return e.TrustedPeers
	case len(e.ClientCAFiles) > 0:
		return nil
	}
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// gatewayExtAuthz checks gateway.ext_authz as a list of rule groups, in
// the order their errors are reported.
func (v *validator) gatewayExtAuthz() {
	g := &v.c.Gateway
	e := &g.ExtAuthz
	if !e.Enabled() {
		if e.TLS.Enabled() || len(e.ClientCAFiles) > 0 || len(e.TrustedPeers) > 0 {
			v.add(extAuthzKey("listen"), ErrMissing, "the other ext_authz keys need a listen address")
		}
		return
	}
	if !g.Enabled {
		v.add(extAuthzKey("listen"), ErrInvalidValue, "needs gateway.enabled: ext_authz answers with the gateway's decision")
		return
	}
	host, ok := v.extAuthzListen()
	if !ok {
		return
	}
	v.extAuthzTLS()
	v.extAuthzTrust(host)
}

func extAuthzKey(k string) string { return gatewayExtAuthzPath + "." + k }

// extAuthzListen checks listen: an address of its own. It returns the
// host, and false if the address does not parse.
func (v *validator) extAuthzListen() (string, bool) {
	g := &v.c.Gateway
	e := &g.ExtAuthz
	host, port, err := net.SplitHostPort(e.Listen)
	if err != nil || port == "" {
		v.add(extAuthzKey("listen"), ErrInvalidValue, "%q is not a host:port address", e.Listen)
		return "", false
	}
	for _, other := range []string{g.Listen, g.AdminListen, g.Authorizer.Listen} {
		if e.Listen == other {
			v.add(extAuthzKey("listen"), ErrInvalidValue, "%q is already the gateway's listen, admin_listen or authorizer.listen", e.Listen)
		}
	}
	return host, true
}

// extAuthzTLS checks the listener's TLS and the CAs of Envoy's client
// certificates.
func (v *validator) extAuthzTLS() {
	e := &v.c.Gateway.ExtAuthz
	if e.TLS.Enabled() && (e.TLS.CertFile == "" || e.TLS.KeyFile == "") {
		v.add(extAuthzKey("tls"), ErrMissing, "cert_file and key_file are both required")
	}
	for i, f := range e.ClientCAFiles {
		if strings.TrimSpace(f) == "" {
			v.add(fmt.Sprintf("%s[%d]", extAuthzKey("client_ca_files"), i), ErrInvalidValue, "empty file name")
		}
	}
	if len(e.ClientCAFiles) > 0 && !e.TLS.Enabled() {
		v.add(extAuthzKey("client_ca_files"), ErrMissing, "needs gateway.ext_authz.tls: client certificates come with TLS")
	}
}

// extAuthzTrust: Envoy's word on the client's address and certificate is
// taken as true, so a listener reachable from other hosts must say whom
// it trusts.
func (v *validator) extAuthzTrust(host string) {
	e := &v.c.Gateway.ExtAuthz
	if ip, err := netip.ParseAddr(host); (err != nil || !ip.IsLoopback()) && host != "localhost" &&
		len(e.TrustedPeers) == 0 && len(e.ClientCAFiles) == 0 {
		v.add(extAuthzKey("listen"), ErrInvalidValue, "%q is not a loopback address: set trusted_peers (the networks of the Envoy proxies) or client_ca_files (Envoy's client certificates), because ext_authz believes the client address and certificate its caller reports", e.Listen)
	}
}
