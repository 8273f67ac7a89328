package client

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// WithCertificateBinding makes the Client obtain certificate-bound access
// tokens (RFC 8705 §3) instead of DPoP-bound ones: its token and PAR
// requests carry no DPoP proof and go to the server's mTLS token endpoint
// alias when it has one (RFC 8705 §5, Endpoint.MTLSTokenURL), and a
// token response must have token_type Bearer (the token's cnf.x5t#S256
// names the certificate). The client certificate is presented by the
// Transport of WithHTTPClient's client (TLSConfig makes its TLS
// configuration); without a secret the client authenticates with that
// certificate (tls_client_auth or self_signed_tls_client_auth, §2).
//
// Such a token is sent with the Bearer scheme over a connection
// presenting the same certificate; Client.Transport and the token
// sources, which add DPoP proofs, are not for it.
func WithCertificateBinding() Option {
	return clientOption(func(o *options) { o.certBound = true })
}

// TLSConfig returns a client TLS configuration (TLS 1.2 or later) that
// presents the certificate of certFile and keyFile (PEM; both or
// neither) and trusts the CA certificates of caFile (PEM) instead of the
// system roots when caFile is given.
func TLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case certFile != "" || keyFile != "":
		return nil, fmt.Errorf("client: a client certificate needs both its certificate file and its key file")
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("client: CA file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: CA file %s holds no PEM certificate", caFile)
		}
	}
	return tc, nil
}
