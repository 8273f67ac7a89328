package mtls

import "errors"

var (
	// ErrNoCertificate: the request carries no client certificate.
	ErrNoCertificate = errors.New("mtls: no client certificate")
	// ErrForwardedCert: the forwarded certificate header is malformed.
	ErrForwardedCert = errors.New("mtls: malformed forwarded certificate")
	// ErrUntrustedCert: a certificate does not chain to the client CAs, has
	// expired, or is not valid for client authentication.
	ErrUntrustedCert = errors.New("mtls: client certificate not trusted")
	// ErrConfig: the certificate, key or CA files cannot be used.
	ErrConfig = errors.New("mtls: invalid TLS files")
)
