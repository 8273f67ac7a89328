package mtls

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// DefaultForwardedHeader is the header a trusted proxy sets to the client's
// URL-escaped PEM certificate when no other name is configured.
const DefaultForwardedHeader = "X-Client-Cert"

// maxForwardedLen bounds the header value parsed (an escaped RSA-4096 leaf
// with a few SANs is about 3 KiB).
const maxForwardedLen = 16 << 10

// ParseForwardedCert parses a header value holding one URL-escaped PEM
// certificate (nginx $ssl_client_escaped_cert). Percent-escapes are decoded
// as in a URL path: '+' stays '+', as it must in base64. Surrounding double
// quotes (Envoy XFCC's Cert="...") are removed. Exactly one CERTIFICATE block
// is accepted. The certificate is not verified.
func ParseForwardedCert(value string) (*x509.Certificate, error) {
	if len(value) > maxForwardedLen {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrForwardedCert, len(value), maxForwardedLen)
	}
	value = strings.TrimSpace(value)
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	raw, err := url.PathUnescape(value)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForwardedCert, err)
	}
	block, rest := pem.Decode([]byte(raw))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: no PEM CERTIFICATE block", ErrForwardedCert)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("%w: data after the certificate", ErrForwardedCert)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForwardedCert, err)
	}
	return cert, nil
}

// TrustedProxy says which proxies may forward a client certificate in a
// header, and against which CAs it is verified again.
type TrustedProxy struct {
	// Header carrying the certificate; DefaultForwardedHeader when empty.
	Header string
	// Trusted holds the source addresses (the request's RemoteAddr) of the
	// proxies allowed to set Header. Empty: no proxy is trusted.
	Trusted []netip.Prefix
	// Roots are the client CAs a forwarded certificate must chain to
	// (a *ServerConfig, or StaticPool). Required.
	Roots CAPool
	// Now is the clock for verification; time.Now when nil.
	Now func() time.Time
}

// StaticPool adapts a fixed pool to [CAPool].
type StaticPool struct{ Pool *x509.CertPool }

// ClientCAs returns p.Pool.
func (p StaticPool) ClientCAs() *x509.CertPool { return p.Pool }

func (p *TrustedProxy) header() string {
	if p.Header == "" {
		return DefaultForwardedHeader
	}
	return p.Header
}

// IsTrusted reports whether the request comes directly from a trusted proxy.
func (p *TrustedProxy) IsTrusted(r *http.Request) bool {
	if p == nil || len(p.Trusted) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, pfx := range p.Trusted {
		if pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// Strip removes the forwarded-certificate header unless the request comes
// from a trusted proxy. Call it before handing a request to anything that
// might read the header, or before proxying the request on.
func (p *TrustedProxy) Strip(r *http.Request) {
	if p == nil {
		r.Header.Del(DefaultForwardedHeader)
		return
	}
	if !p.IsTrusted(r) {
		r.Header.Del(p.header())
	}
}

// Forwarded returns the verified certificate a trusted proxy forwarded, or
// ErrNoCertificate when the request has none or does not come from a trusted
// proxy (the header is then ignored).
func (p *TrustedProxy) Forwarded(r *http.Request) (*x509.Certificate, error) {
	if !p.IsTrusted(r) {
		return nil, ErrNoCertificate
	}
	cert, err := p.forwardedRaw(r)
	if err != nil {
		return nil, err
	}
	if err := p.verify(cert, nil); err != nil {
		return nil, err
	}
	return cert, nil
}

func (p *TrustedProxy) forwardedRaw(r *http.Request) (*x509.Certificate, error) {
	values := r.Header.Values(p.header())
	switch len(values) {
	case 0:
		return nil, ErrNoCertificate
	case 1:
	default:
		return nil, fmt.Errorf("%w: %d %s headers", ErrForwardedCert, len(values), p.header())
	}
	if values[0] == "" {
		return nil, ErrNoCertificate
	}
	return ParseForwardedCert(values[0])
}

func (p *TrustedProxy) verify(cert *x509.Certificate, intermediates []*x509.Certificate) error {
	var roots *x509.CertPool
	if p.Roots != nil {
		roots = p.Roots.ClientCAs()
	}
	if roots == nil {
		return fmt.Errorf("%w: no client CAs configured", ErrUntrustedCert)
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	var inter *x509.CertPool
	if len(intermediates) > 0 {
		inter = x509.NewCertPool()
		for _, c := range intermediates {
			inter.AddCert(c)
		}
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUntrustedCert, err)
	}
	return nil
}

// ClientCertificate returns the verified client certificate of r: the leaf
// of the TLS connection if the client presented one, otherwise the
// certificate forwarded by a trusted proxy (p may be nil: no proxy, and then
// only certificates crypto/tls verified are accepted). A connection
// certificate that crypto/tls did not verify ([AllowUnverifiedClientCerts])
// is verified here against p.Roots. It returns ErrNoCertificate when there is
// none, ErrUntrustedCert when it does not verify.
func ClientCertificate(r *http.Request, p *TrustedProxy) (*x509.Certificate, error) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		leaf := r.TLS.PeerCertificates[0]
		if len(r.TLS.VerifiedChains) > 0 {
			return leaf, nil
		}
		if p == nil {
			return nil, fmt.Errorf("%w: not verified by the TLS handshake and no client CAs", ErrUntrustedCert)
		}
		if err := p.verify(leaf, r.TLS.PeerCertificates[1:]); err != nil {
			return nil, err
		}
		return leaf, nil
	}
	if p == nil {
		return nil, ErrNoCertificate
	}
	return p.Forwarded(r)
}

// PresentedCertificate returns the leaf certificate the client proved it
// holds the key of, without verifying its chain: from the TLS connection, or
// from the header of a trusted proxy (which terminated TLS and so checked
// possession). Use it only where the certificate itself is what is checked:
// RFC 8705 self_signed_tls_client_auth (its key must be in the client's
// registered JWKS) and certificate binding (x5t#S256, §3). Anything else must
// use [ClientCertificate].
func PresentedCertificate(r *http.Request, p *TrustedProxy) (*x509.Certificate, error) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0], nil
	}
	if !p.IsTrusted(r) {
		return nil, ErrNoCertificate
	}
	return p.forwardedRaw(r)
}
