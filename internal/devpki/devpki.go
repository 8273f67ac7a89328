// Package devpki makes a development PKI for trying mTLS locally
// (docs/MTLS.md, `ward certs`): a CA, server certificates and client or
// workload certificates with SPIFFE IDs. Keys are ECDSA P-256, written
// 0600. Not for production.
package devpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// FileName restricts a certificate's name, which is also its file name.
var FileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ServerTemplate is a TLS server certificate for name, valid for hosts
// (IP addresses and DNS names).
func ServerTemplate(name string, hosts []string) *x509.Certificate {
	tmpl := leaf(name, x509.ExtKeyUsageServerAuth)
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl
}

// ClientTemplate is a TLS client certificate for name, with spiffeID (when
// not empty) as its URI SAN.
func ClientTemplate(name, spiffeID string) (*x509.Certificate, error) {
	tmpl := leaf(name, x509.ExtKeyUsageClientAuth)
	if spiffeID != "" {
		id, err := spiffeid.FromString(spiffeID)
		if err != nil {
			return nil, err
		}
		tmpl.URIs = []*url.URL{id.URL()}
	}
	return tmpl, nil
}

func leaf(name string, usage x509.ExtKeyUsage) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: name}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}}
}

func newKeyP256() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// NewCA creates a self-signed CA certificate and its key, for issuing
// leaf certificates only (path length zero).
func NewCA(name string, validity time.Duration) (*x509.Certificate, crypto.Signer, error) {
	key, err := newKeyP256()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	cert, _, err := sign(tmpl, nil, key, key, validity)
	return cert, key, err
}

// Issue signs tmpl for a new key with the CA; the validity is cut to the
// CA's own.
func Issue(tmpl, ca *x509.Certificate, caKey crypto.Signer, validity time.Duration) (*x509.Certificate, crypto.Signer, error) {
	key, err := newKeyP256()
	if err != nil {
		return nil, nil, err
	}
	if ca.NotAfter.Before(time.Now().Add(validity)) {
		validity = time.Until(ca.NotAfter)
	}
	cert, _, err := sign(tmpl, ca, caKey, key, validity)
	return cert, key, err
}

func sign(tmpl, parent *x509.Certificate, parentKey, key crypto.Signer, validity time.Duration) (*x509.Certificate, []byte, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-5 * time.Minute) // small clock skew between machines
	tmpl.NotAfter = now.Add(validity)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, der, err
}

// LoadCA reads DIR/ca.pem and DIR/ca-key.pem and checks that the key
// belongs to the certificate.
func LoadCA(dir string) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, nil, fmt.Errorf("CA: %w (create one with `ward certs ca --out %s`)", err, dir)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		return nil, nil, fmt.Errorf("CA key: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, errors.New("CA: ca.pem or ca-key.pem is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("CA: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("CA key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok || !cert.IsCA {
		return nil, nil, errors.New("CA: ca.pem is not a CA certificate or its key cannot sign")
	}
	if pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, nil, errors.New("CA: ca-key.pem does not belong to ca.pem")
	}
	return cert, signer, nil
}

// WritePair writes DIR/base.pem (0644) and DIR/base-key.pem (0600).
func WritePair(dir, base string, cert *x509.Certificate, key crypto.Signer, force bool) (string, string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile := filepath.Join(dir, base+".pem")
	keyFile := filepath.Join(dir, base+"-key.pem")
	if !force {
		for _, f := range []string{certFile, keyFile} {
			if _, err := os.Stat(f); err == nil {
				return "", "", fmt.Errorf("%s exists (use --force to replace it)", f)
			}
		}
	}
	if err := writeFileMode(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	if err := writeFileMode(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// writeFileMode writes a new file with mode: an existing file (--force) is
// removed first, so a key never lands in a file readable by others.
func writeFileMode(name string, data []byte, mode os.FileMode) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
