package resource

import (
	"crypto/subtle"
	"crypto/x509"
	"net/http"

	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/oauth"
)

// CertificateSource returns the client certificate of a request (RFC 8705
// §3): nil and no error when the request presents none, an error when it
// presents one that cannot be used (for example a malformed or unverified
// certificate forwarded by a TLS proxy). A source other than the default
// must return only certificates verified against the trusted CAs: their
// SPIFFE ID is taken as the caller's workload identity.
type CertificateSource func(r *http.Request) (*x509.Certificate, error)

// PeerCertificate is the default CertificateSource: the certificate the
// client presented in the TLS handshake with this server
// (r.TLS.PeerCertificates[0]), or nil.
func PeerCertificate(r *http.Request) (*x509.Certificate, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, nil
	}
	return r.TLS.PeerCertificates[0], nil
}

// verifiedCert reports whether the request's certificate was checked
// against trusted CAs: always for a configured source (its contract), and
// for the default only when the TLS stack built a verified chain.
func (rs *Resource) verifiedCert(r *http.Request) bool {
	if rs.cfg.ClientCertificate != nil {
		return true
	}
	return r.TLS != nil && len(r.TLS.VerifiedChains) > 0
}

// clientCert returns the request's certificate, its thumbprint and its
// SPIFFE ID (only for a verified certificate with exactly one spiffe URI
// SAN).
func (rs *Resource) clientCert(r *http.Request) (thumb, spiffeID string, present bool, err error) {
	src := rs.cfg.ClientCertificate
	if src == nil {
		src = PeerCertificate
	}
	cert, err := src(r)
	if err != nil || cert == nil {
		return "", "", false, err
	}
	thumb = mtls.Thumbprint(cert)
	if rs.verifiedCert(r) {
		if id, ok := mtls.SPIFFEID(cert); ok {
			spiffeID = id.String()
		}
	}
	return thumb, spiffeID, true, nil
}

// checkCertBinding enforces cnf.x5t#S256 (RFC 8705 §3): the request's
// client certificate must be the one the token is bound to.
func checkCertBinding(x5t, thumb string, present bool, certErr error, jkt string) *oauth.Error {
	switch {
	case certErr != nil:
		return invalidToken(ReasonCertInvalid, "the access token is certificate-bound and the forwarded client certificate cannot be used", jkt, certErr)
	case !present:
		return invalidToken(ReasonCertMissing, "the access token is certificate-bound (RFC 8705): present its certificate in the TLS handshake", jkt, nil)
	case subtle.ConstantTimeCompare([]byte(x5t), []byte(thumb)) != 1:
		return invalidToken(ReasonCertMismatch, "the access token is bound to another certificate (cnf.x5t#S256)", jkt, nil)
	}
	return nil
}
