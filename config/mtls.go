package config

import (
	"encoding/json"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"net"
	"net/url"
	"strings"
	"time"
)

// MTLS configures mutual TLS at the authorization server (RFC 8705,
// docs/MTLS.md): client authentication by certificate (tls_client_auth,
// self_signed_tls_client_auth) and certificate-bound access tokens
// (cnf.x5t#S256). The zero value turns it off.
type MTLS struct {
	// ClientCAFiles are PEM bundles of the CAs that tls_client_auth
	// certificates must chain to. Setting them turns mTLS on: the TLS
	// listener(s) ask for a client certificate (optional, so browsers are
	// not prompted; self-signed ones are accepted for
	// self_signed_tls_client_auth and for binding). Reloaded when they
	// change, without a restart.
	ClientCAFiles []string `yaml:"client_ca_files"`
	// Listen, when set, is a second TLS listener (same tls.cert_file) for
	// the mTLS endpoints, published as mtls_endpoint_aliases (RFC 8705 §5)
	// at EndpointBaseURL. Empty: the main listener asks for certificates.
	Listen string `yaml:"listen"`
	// EndpointBaseURL is the https base URL clients use to reach Listen
	// (or a proxy in front of it), e.g. https://mtls.auth.example.com.
	// When set, the metadata publishes mtls_endpoint_aliases under it.
	EndpointBaseURL string `yaml:"endpoint_base_url"`
	// ForwardedCertHeader is the header in which a TLS-terminating proxy
	// listed in behind_tls_proxy.trusted_proxies sends the client's
	// certificate as URL-escaped PEM (nginx $ssl_client_escaped_cert),
	// e.g. X-Client-Cert. It is ignored from any other address, and
	// certificates in it are verified again against client_ca_files for
	// tls_client_auth. Empty: off.
	ForwardedCertHeader string `yaml:"forwarded_cert_header"`
	// ReloadInterval: how often the certificate, key and CA files are
	// checked for changes. Default 30s; at least 1s.
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// DefaultASMTLSReloadInterval is mtls.reload_interval's default.
const DefaultASMTLSReloadInterval = 30 * time.Second

// Enabled reports whether the authorization server accepts client
// certificates.
func (m *MTLS) Enabled() bool { return len(m.ClientCAFiles) > 0 }

// Interval is reload_interval or its default.
func (m *MTLS) Interval() time.Duration {
	if m.ReloadInterval == 0 {
		return DefaultASMTLSReloadInterval
	}
	return m.ReloadInterval
}

// mtls checks the authorization server's mtls section as a list of rule
// groups, in the order their errors are reported.
func (v *validator) mtls() {
	c := v.c
	m := &c.MTLS
	for i, f := range m.ClientCAFiles {
		if strings.TrimSpace(f) == "" {
			v.add(fmt.Sprintf("mtls.client_ca_files[%d]", i), ErrInvalidValue, "empty file name")
		}
	}
	if !m.Enabled() {
		v.mtlsOff()
		return
	}
	if !c.TLS.Enabled() && m.ForwardedCertHeader == "" {
		v.add("mtls.client_ca_files", ErrInvalidValue, "client certificates need tls (cert_file, key_file) or mtls.forwarded_cert_header behind a trusted proxy")
	}
	v.mtlsListener()
	if h := m.ForwardedCertHeader; h != "" {
		if !validHeaderName(h) {
			v.add("mtls.forwarded_cert_header", ErrInvalidValue, "%q is not an HTTP header name", h)
		}
		if !c.BehindTLSProxy.Enabled() {
			v.add("mtls.forwarded_cert_header", ErrInvalidValue, "needs behind_tls_proxy.trusted_proxies (the only sources it is read from)")
		}
	}
	if m.ReloadInterval != 0 && m.ReloadInterval < time.Second {
		v.add("mtls.reload_interval", ErrInvalidValue, "must be at least 1s")
	}
}

// mtlsOff reports the mtls settings that need client_ca_files.
func (v *validator) mtlsOff() {
	m := &v.c.MTLS
	for _, k := range []struct {
		path string
		set  bool
	}{
		{"mtls.listen", m.Listen != ""}, {"mtls.endpoint_base_url", m.EndpointBaseURL != ""},
		{"mtls.forwarded_cert_header", m.ForwardedCertHeader != ""}, {"mtls.reload_interval", m.ReloadInterval != 0},
	} {
		if k.set {
			v.add(k.path, ErrInvalidValue, "needs mtls.client_ca_files")
		}
	}
}

// mtlsListener checks the dedicated certificate listener and the base
// URL its endpoints are advertised at (RFC 8705 §5).
func (v *validator) mtlsListener() {
	c := v.c
	m := &c.MTLS
	if m.Listen != "" {
		if _, port, err := net.SplitHostPort(m.Listen); err != nil || port == "" {
			v.add("mtls.listen", ErrInvalidValue, "%q is not a host:port address", m.Listen)
		} else if m.Listen == c.Listen {
			v.add("mtls.listen", ErrInvalidValue, "must differ from listen")
		}
		if !c.TLS.Enabled() {
			v.add("mtls.listen", ErrInvalidValue, "needs tls.cert_file and tls.key_file")
		}
		if m.EndpointBaseURL == "" {
			v.add("mtls.endpoint_base_url", ErrMissing, "required with mtls.listen (the URL clients reach it at)")
		}
	}
	if m.EndpointBaseURL == "" {
		return
	}
	u, err := url.Parse(m.EndpointBaseURL)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		v.add("mtls.endpoint_base_url", ErrInvalidValue, "%q is not an absolute URL", m.EndpointBaseURL)
	case u.Scheme != "https":
		v.add("mtls.endpoint_base_url", ErrInvalidValue, "%q must use https", m.EndpointBaseURL)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		v.add("mtls.endpoint_base_url", ErrInvalidValue, "%q must not have a query, fragment or user information", m.EndpointBaseURL)
	case strings.HasSuffix(m.EndpointBaseURL, "/"):
		v.add("mtls.endpoint_base_url", ErrInvalidValue, "%q must not end with \"/\"", m.EndpointBaseURL)
	}
}

// validHeaderName reports whether h is an RFC 9110 token.
func validHeaderName(h string) bool {
	for _, r := range h {
		if r > 0x7e || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return h != ""
}

// tlsClient validates a client authenticating by certificate (RFC 8705 §2).
// Its jwks (or jwks_file) is required: for self_signed_tls_client_auth the
// public keys of its certificates; for tls_client_auth a document holding
// exactly one of the RFC 8705 §2.1.2 registration values next to "keys",
// e.g. {"keys": [], "tls_client_auth_san_uri": "spiffe://prod/sa/x"}.
func (v *validator) tlsClient(cl *Client, p func(string) string, hasSecret, hasKeys bool) {
	if hasSecret {
		v.add(p("secret_hash"), ErrInvalidValue, "%s clients have no secret", cl.AuthMethod)
	}
	if cl.JWKS != "" && cl.JWKSFile != "" || !hasKeys {
		v.add(p("jwks"), ErrMissing, "%s needs exactly one of jwks and jwks_file", cl.AuthMethod)
	}
	if cl.AuthMethod != oauth.AuthTLSClient || cl.JWKS == "" {
		return
	}
	var reg map[string]any
	if err := json.Unmarshal([]byte(cl.JWKS), &reg); err != nil {
		v.add(p("jwks"), ErrInvalidValue, "not a JSON object")
		return
	}
	n := 0
	for _, k := range []string{"tls_client_auth_subject_dn", "tls_client_auth_san_dns", "tls_client_auth_san_uri", "tls_client_auth_san_ip", "tls_client_auth_san_email"} {
		if s, ok := reg[k].(string); ok && s != "" {
			n++
		}
	}
	if n != 1 {
		v.add(p("jwks"), ErrInvalidValue, "tls_client_auth needs exactly one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip, _san_email")
	}
}
