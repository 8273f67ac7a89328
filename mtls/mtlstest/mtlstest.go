// Package mtlstest mints certificate authorities and certificates in memory
// for tests of mutual TLS: server certificates with DNS and IP SANs, client
// certificates with SPIFFE IDs, expired and self-signed ones.
//
// Loopback writes the files of a process that serves TLS on 127.0.0.1: a
// CA, a certificate and its key, as the tests that start `ward serve`
// need them.
//
// Keys are ECDSA P-256. Nothing here is meant for production.
package mtlstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is an in-memory certificate authority.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
}

// Cert is an issued certificate with its key.
type Cert struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte // the leaf, then any chain
	KeyPEM  []byte // PKCS #8
}

// Options describe a certificate to issue. The zero value is a client and
// server certificate valid from an hour ago for a day, with CommonName "test".
type Options struct {
	CommonName   string
	Organization string
	DNSNames     []string
	IPAddresses  []net.IP
	URIs         []string // e.g. "spiffe://prod/ns/payments/sa/order-service"
	Emails       []string
	NotBefore    time.Time // default: now - 1h
	NotAfter     time.Time // default: NotBefore + 25h
	Expired      bool      // valid from 48h ago until 24h ago
	ServerOnly   bool      // ExtKeyUsage serverAuth only
	ClientOnly   bool      // ExtKeyUsage clientAuth only
}

// NewCA returns a self-signed root CA with the given common name ("Test CA"
// when empty).
func NewCA(t testing.TB, commonName ...string) *CA {
	t.Helper()
	cn := "Test CA"
	if len(commonName) > 0 {
		cn = commonName[0]
	}
	ca, err := newCA(cn)
	if err != nil {
		t.Fatalf("mtlstest: CA: %v", err)
	}
	return ca
}

func newCA(cn string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertPEM: pemCert(der)}, nil
}

// Pool returns a pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// WriteFile writes the CA certificate as PEM into dir and returns its path.
func (ca *CA) WriteFile(t testing.TB, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(name, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// Issue signs a new certificate with the CA.
func (ca *CA) Issue(t testing.TB, o Options) *Cert {
	t.Helper()
	return must(t)(issue(o, ca.Cert, ca.Key, newKey(t)))
}

// SelfSigned returns a self-signed end-entity certificate (RFC 8705
// self_signed_tls_client_auth).
func SelfSigned(t testing.TB, o Options) *Cert {
	t.Helper()
	return must(t)(issue(o, nil, nil, newKey(t)))
}

// SelfSignedWithKey is SelfSigned for an existing key: a new (say,
// expired) certificate for a registered key.
func SelfSignedWithKey(t testing.TB, key crypto.Signer, o Options) *Cert {
	t.Helper()
	return must(t)(issue(o, nil, nil, key))
}

// must turns issue's error into a test failure.
func must(t testing.TB) func(*Cert, error) *Cert {
	return func(c *Cert, err error) *Cert {
		t.Helper()
		if err != nil {
			t.Fatalf("mtlstest: issue: %v", err)
		}
		return c
	}
}

func issue(o Options, parent *x509.Certificate, parentKey, key crypto.Signer) (*Cert, error) {
	if o.CommonName == "" {
		o.CommonName = "test"
	}
	nb, na := o.NotBefore, o.NotAfter
	if nb.IsZero() {
		nb = time.Now().Add(-time.Hour)
	}
	if na.IsZero() {
		na = nb.Add(25 * time.Hour)
	}
	if o.Expired {
		nb, na = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
	}
	eku := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	switch {
	case o.ServerOnly:
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case o.ClientOnly:
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: o.CommonName},
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		DNSNames:              o.DNSNames,
		IPAddresses:           o.IPAddresses,
		EmailAddresses:        o.Emails,
	}
	if o.Organization != "" {
		tmpl.Subject.Organization = []string{o.Organization}
	}
	for _, s := range o.URIs {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("URI SAN %q: %w", s, err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Cert{
		Cert:    cert,
		Key:     key,
		CertPEM: pemCert(der),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}),
	}, nil
}

// TLSCertificate returns the certificate for tls.Config.Certificates.
func (c *Cert) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Cert.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
}

// WriteFiles writes the certificate and key as PEM into dir under the given
// base name (cert: base+".pem", key: base+"-key.pem", mode 0600) and returns
// their paths.
func (c *Cert) WriteFiles(t testing.TB, dir, base string) (certFile, keyFile string) {
	t.Helper()
	certFile = filepath.Join(dir, base+".pem")
	keyFile = filepath.Join(dir, base+"-key.pem")
	if err := os.WriteFile(certFile, c.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// Escaped returns the certificate as a TLS-terminating proxy forwards it:
// URL-escaped PEM (nginx $ssl_client_escaped_cert).
func (c *Cert) Escaped() string {
	return url.PathEscape(string(pemCert(c.Cert.Raw)))
}

// ClientTLSConfig returns a TLS 1.3 client configuration presenting c (nil:
// no client certificate) and trusting roots. The certificate is sent whatever
// CAs the server asks for (as curl does), so a server's refusal of a foreign
// or self-signed certificate can be tested.
func ClientTLSConfig(c *Cert, roots *x509.CertPool) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots}
	if c != nil {
		tc := c.TLSCertificate()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &tc, nil
		}
	}
	return cfg
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) // crypto/rand never fails
	return n
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// LoopbackPKI is the TLS material of a test process serving 127.0.0.1.
type LoopbackPKI struct {
	CA   *CA
	Cert *Cert // for 127.0.0.1, server auth only
	// CAFile, CertFile and KeyFile are the PEM files in the directory
	// given (ca.pem, cert.pem, key.pem; the key PKCS #8, mode 0600).
	CAFile, CertFile, KeyFile string
	// Pool trusts CA only.
	Pool *x509.CertPool
}

// Loopback makes a CA and a certificate for 127.0.0.1 and writes them into
// dir; a process told SSL_CERT_FILE=CAFile trusts the certificate.
func Loopback(t testing.TB, dir string) *LoopbackPKI {
	t.Helper()
	p, err := WriteLoopback(dir)
	if err != nil {
		t.Fatalf("mtlstest: %v", err)
	}
	return p
}

// WriteLoopback is Loopback for code without a testing.TB (a TestMain).
func WriteLoopback(dir string) (*LoopbackPKI, error) {
	ca, err := newCA("Ward loopback test CA")
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cert, err := issue(Options{CommonName: "127.0.0.1", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ServerOnly: true}, ca.Cert, ca.Key, key)
	if err != nil {
		return nil, err
	}
	p := &LoopbackPKI{CA: ca, Cert: cert, Pool: ca.Pool(),
		CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
	for path, b := range map[string][]byte{p.CAFile: ca.CertPEM, p.CertFile: cert.CertPEM, p.KeyFile: cert.KeyPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}
