package mtls

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Thumbprint returns the base64url (unpadded) SHA-256 hash of the
// certificate's DER encoding: the value of the "x5t#S256" confirmation method
// of a certificate-bound access token (RFC 8705 §3.1).
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// SPIFFEID returns the SPIFFE ID of an X509-SVID leaf certificate. Per the
// SPIFFE X509-SVID specification (§2) the certificate must hold exactly one
// URI SAN and it must be a valid spiffe:// ID; otherwise ok is false. A
// certificate with several URI SANs has no SPIFFE ID, even if one of them is
// a spiffe:// URI. The certificate is not verified here.
func SPIFFEID(cert *x509.Certificate) (id spiffeid.ID, ok bool) {
	if cert == nil || len(cert.URIs) != 1 {
		return spiffeid.ID{}, false
	}
	id, err := spiffeid.FromURI(cert.URIs[0])
	if err != nil {
		return spiffeid.ID{}, false
	}
	return id, true
}
