package authz

import (
	"crypto"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/oauth"
)

// TLSClientAuth is what a tls_client_auth client registers (RFC 8705
// §2.1.2): exactly one of the subject DN or one SAN the client's certificate
// must carry. It is kept in the client's JWKS document next to "keys", as
// top-level members with the RFC 8705 metadata names, so that registering it
// needs no new column:
//
//	{"keys": [], "tls_client_auth_san_uri": "spiffe://prod/ns/payments/sa/order"}
//
// SubjectDN is compared with the certificate subject as Go prints it
// (RFC 4514 order, e.g. "CN=order,O=Example"); the SANs are compared exactly
// (DNS names and emails case-insensitively, IPs by value).
type TLSClientAuth struct {
	SubjectDN string `json:"tls_client_auth_subject_dn,omitempty"`
	SANDNS    string `json:"tls_client_auth_san_dns,omitempty"`
	SANURI    string `json:"tls_client_auth_san_uri,omitempty"`
	SANIP     string `json:"tls_client_auth_san_ip,omitempty"`
	SANEmail  string `json:"tls_client_auth_san_email,omitempty"`
}

// TLSClientAuthJWKS returns the JWKS document holding a tls_client_auth
// registration, for store.Client.JWKS.
func TLSClientAuthJWKS(a TLSClientAuth) []byte {
	m := map[string]any{"keys": []any{}}
	b, _ := json.Marshal(a)
	_ = json.Unmarshal(b, &m)
	out, _ := json.Marshal(m)
	return out
}

// set counts the values given; a registration needs exactly one.
func (a *TLSClientAuth) set() int {
	n := 0
	for _, v := range []string{a.SubjectDN, a.SANDNS, a.SANURI, a.SANIP, a.SANEmail} {
		if v != "" {
			n++
		}
	}
	return n
}

// matches reports whether cert carries the registered value.
func (a *TLSClientAuth) matches(cert *x509.Certificate) bool {
	eq := func(x, y string) bool { return subtle.ConstantTimeCompare([]byte(x), []byte(y)) == 1 }
	switch {
	case a.SubjectDN != "":
		return eq(cert.Subject.String(), a.SubjectDN)
	case a.SANDNS != "":
		for _, d := range cert.DNSNames {
			if strings.EqualFold(d, a.SANDNS) {
				return true
			}
		}
	case a.SANURI != "":
		for _, u := range cert.URIs {
			if eq(u.String(), a.SANURI) {
				return true
			}
		}
	case a.SANIP != "":
		want := net.ParseIP(a.SANIP)
		for _, ip := range cert.IPAddresses {
			if want != nil && ip.Equal(want) {
				return true
			}
		}
	case a.SANEmail != "":
		for _, e := range cert.EmailAddresses {
			if strings.EqualFold(e, a.SANEmail) {
				return true
			}
		}
	}
	return false
}

// parseTLSClientAuth reads the registration from a client's JWKS document.
func parseTLSClientAuth(jwks []byte) (*TLSClientAuth, error) {
	var a TLSClientAuth
	if len(jwks) == 0 || json.Unmarshal(jwks, &a) != nil || a.set() != 1 {
		return nil, errors.New("a tls_client_auth client needs exactly one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip, _san_email")
	}
	return &a, nil
}

// authenticateTLSClient authenticates a client registered for mutual-TLS
// authentication by the certificate of the request (RFC 8705 §2):
// tls_client_auth needs a certificate chaining to the configured client CAs
// and carrying the registered subject or SAN; self_signed_tls_client_auth
// needs a certificate whose public key is in the client's JWKS, valid now.
func (s *Server) authenticateTLSClient(r *http.Request, c *client) (*client, error) {
	switch c.AuthMethod {
	case oauth.AuthTLSClient:
		cert, err := mtls.ClientCertificate(r, s.opts.MTLS)
		if err != nil {
			s.log.Info("authz: tls_client_auth refused", "client_id", c.ID, "reason", err)
			return nil, invalidClient("this client must authenticate with a client certificate from a trusted CA (tls_client_auth)")
		}
		reg, err := parseTLSClientAuth(c.JWKS)
		if err != nil {
			return nil, oauth.Wrap(err, "the client's registration is incomplete")
		}
		if !reg.matches(cert) {
			s.log.Info("authz: tls_client_auth refused", "client_id", c.ID, "reason", "certificate subject or SAN does not match the registration", "cert_subject", cert.Subject.String())
			return nil, invalidClient("the client certificate does not match this client's registered subject")
		}
		return c, nil
	case oauth.AuthSelfSignedTLSClient:
		cert, err := mtls.PresentedCertificate(r, s.opts.MTLS)
		if err != nil {
			s.log.Info("authz: self_signed_tls_client_auth refused", "client_id", c.ID, "reason", err)
			return nil, invalidClient("this client must authenticate with its registered certificate (self_signed_tls_client_auth)")
		}
		now := s.now()
		if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
			s.log.Info("authz: self_signed_tls_client_auth refused", "client_id", c.ID, "reason", "certificate expired or not yet valid")
			return nil, invalidClient("the client certificate has expired or is not valid yet")
		}
		if c.jwks == nil || !jwksHasKey(c, cert.PublicKey) {
			s.log.Info("authz: self_signed_tls_client_auth refused", "client_id", c.ID, "reason", "certificate key not in the client's JWKS")
			return nil, invalidClient("the client certificate is not registered for this client")
		}
		return c, nil
	}
	return nil, invalidClient("this client must authenticate with %s", c.AuthMethod)
}

// jwksHasKey reports whether the client's JWKS holds pub (RFC 8705 §2.2:
// the certificate is registered through its key, or an x5c entry).
func jwksHasKey(c *client, pub crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	for _, k := range c.jwks.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if kp, ok := k.Key.(equaler); ok && kp.Equal(pub) {
			return true
		}
		for _, xc := range k.Certificates {
			if xp, ok := xc.PublicKey.(equaler); ok && xp.Equal(pub) {
				return true
			}
		}
	}
	return false
}

// isTLSAuth reports whether a client authenticates by certificate.
func isTLSAuth(method oauth.AuthMethod) bool {
	return method == oauth.AuthTLSClient || method == oauth.AuthSelfSignedTLSClient
}

// mtlsEnabled reports whether this server sees client certificates: config
// mtls.client_ca_files, or Options.MTLS given by the embedding program.
func (s *Server) mtlsEnabled() bool {
	return s.cfg.MTLS.Enabled() || s.opts.MTLS != nil
}

// mtlsAliases are the RFC 8705 §5 endpoint aliases under
// mtls.endpoint_base_url, nil when it is not set.
func (s *Server) mtlsAliases() *MTLSEndpointAliases {
	base := s.cfg.MTLS.EndpointBaseURL
	if base == "" {
		return nil
	}
	a := &MTLSEndpointAliases{
		TokenEndpoint:                      base + PathToken,
		PushedAuthorizationRequestEndpoint: base + PathPAR,
		RevocationEndpoint:                 base + PathRevoke,
		IntrospectionEndpoint:              base + PathIntrospect,
		UserinfoEndpoint:                   base + PathUserInfo,
	}
	if s.device.Enabled {
		a.DeviceAuthorizationEndpoint = base + PathDeviceAuthorization
	}
	return a
}

// NewMTLS builds, from config mtls, tls and behind_tls_proxy, what a
// program serving the authorization server needs for RFC 8705:
//
//   - tlsConfig: the reloading TLS 1.3 configuration of the listener (and of
//     mtls.listen), asking for a client certificate without requiring one
//     and accepting self-signed ones (self_signed_tls_client_auth); run
//     tlsConfig.Watch(ctx, cfg.MTLS.Interval()) to reload on change. nil
//     when tls is not configured (TLS terminated by a proxy).
//   - proxy: Options.MTLS (client CAs, and the trusted proxies when
//     mtls.forwarded_cert_header is set).
//
// Both are nil when mtls is off. Without tls the CA files are read once.
func NewMTLS(cfg *config.Config, log *slog.Logger) (tlsConfig *mtls.ServerConfig, proxy *mtls.TrustedProxy, err error) {
	m := &cfg.MTLS
	if !m.Enabled() {
		return nil, nil, nil
	}
	if log == nil {
		log = slog.Default()
	}
	proxy = &mtls.TrustedProxy{}
	if m.ForwardedCertHeader != "" {
		proxy.Header = m.ForwardedCertHeader
		proxy.Trusted = cfg.BehindTLSProxy.TrustedProxies
	}
	if cfg.TLS.Enabled() {
		tlsConfig, err = mtls.NewServerConfig(cfg.TLS.CertFile, cfg.TLS.KeyFile, m.ClientCAFiles,
			mtls.AllowUnverifiedClientCerts(), mtls.WithLogger(log))
		if err != nil {
			return nil, nil, err
		}
		proxy.Roots = tlsConfig
		return tlsConfig, proxy, nil
	}
	pool := x509.NewCertPool()
	for _, f := range m.ClientCAFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: mtls.client_ca_files: %w", ErrConfig, err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, nil, fmt.Errorf("%w: mtls.client_ca_files: %s holds no PEM certificate", ErrConfig, f)
		}
	}
	proxy.Roots = mtls.StaticPool{Pool: pool}
	return nil, proxy, nil
}
