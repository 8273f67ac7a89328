package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLS holds the files of a test CA and of a server certificate it
// signed for 127.0.0.1 (an IP SAN), for servers started with TLS only.
type TLS struct {
	CAFile, CertFile, KeyFile string
	Pool                      *x509.CertPool
}

// NewTLS makes a CA and a server certificate for 127.0.0.1 in a
// temporary directory.
func NewTLS(t testing.TB) *TLS {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "redistest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		// Redis nodes are servers and, to replicas and other nodes, clients.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	x := &TLS{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"),
		Pool: x509.NewCertPool()}
	x.Pool.AddCert(caCert)
	for f, b := range map[string]*pem.Block{x.CAFile: {Type: "CERTIFICATE", Bytes: caDER},
		x.CertFile: {Type: "CERTIFICATE", Bytes: leafDER}, x.KeyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// lines are the server configuration lines for TLS only on port.
func (x *TLS) lines(port string) string {
	return "port 0\ntls-port " + port + "\ntls-cert-file " + x.CertFile + "\ntls-key-file " + x.KeyFile +
		"\ntls-ca-cert-file " + x.CAFile + "\ntls-auth-clients no\ntls-replication yes\ntls-cluster yes\n"
}

// config returns a client TLS configuration for the test servers.
func (x *TLS) config() *tls.Config {
	if x == nil {
		return nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: x.Pool, ServerName: "127.0.0.1"}
}
