package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/wardauth/ward/mtls"
)

// `ward certs` makes a development PKI for trying mTLS locally
// (docs/MTLS.md): a CA, server certificates and client or workload
// certificates with SPIFFE IDs. Keys are ECDSA P-256, written 0600.

func init() {
	register(command{name: "certs", summary: "create a development CA, server and client (SPIFFE) certificates for mTLS", run: runCerts})
}

const certsUsage = `Usage: ward certs <ca|server|client> [flags]
  ca     --out DIR [--name "Ward Dev CA"] [--days 365]
  server --ca DIR --host 127.0.0.1,localhost --out DIR [--name server] [--days 90]
  client --ca DIR --name NAME [--spiffe-id spiffe://dev/ns/x/sa/y] --out DIR [--days 30]
Files: DIR/ca.pem and ca-key.pem; DIR/NAME.pem and NAME-key.pem (keys 0600).
Existing files are kept unless --force. For development only.`

// certFileName restricts --name to a safe file name.
var certFileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func runCerts(_ context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, stderr, certsUsage)
	if err != nil {
		return err
	}
	fs := newFlagSet("certs "+sub, "certs "+sub+" [flags]", stderr)
	out := fs.String("out", "", "output directory (required)")
	force := fs.Bool("force", false, "overwrite existing files")
	var caDir, name, spiffe *string
	var hosts listFlag
	days := 30
	switch sub {
	case "ca":
		name = fs.String("name", "Ward Dev CA", "the CA's common name")
		days = 365
	case "server":
		caDir = fs.String("ca", "", "directory of ca.pem and ca-key.pem (required)")
		name = fs.String("name", "server", "file name and common name")
		fs.Var(&hosts, "host", "DNS names and IP addresses (comma-separated or repeated; required)")
		days = 90
	case "client":
		caDir = fs.String("ca", "", "directory of ca.pem and ca-key.pem (required)")
		name = fs.String("name", "", "client name: common name and file name (required)")
		spiffe = fs.String("spiffe-id", "", "SPIFFE ID put in the URI SAN, e.g. spiffe://dev/ns/shop/sa/orders")
	default:
		fmt.Fprintln(stderr, certsUsage)
		return errUsage
	}
	fs.IntVar(&days, "days", days, "validity in days")
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 || days < 1 || days > 3650 {
		fmt.Fprintln(stderr, certsUsage)
		return errUsage
	}
	validity := time.Duration(days) * 24 * time.Hour
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}

	if sub == "ca" {
		cert, key, err := newDevCA(*name, validity)
		if err != nil {
			return err
		}
		certFile, keyFile, err := writePair(*out, "ca", cert, key, *force)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "CA certificate: %s\nCA key:         %s (keep it private)\n", certFile, keyFile)
		return nil
	}

	if *caDir == "" || !certFileName.MatchString(*name) {
		fmt.Fprintln(stderr, certsUsage)
		if *name != "" && !certFileName.MatchString(*name) {
			return fmt.Errorf("--name %q: use letters, digits, '.', '_' and '-'", *name)
		}
		return errUsage
	}
	caCert, caKey, err := loadDevCA(*caDir)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: *name}, KeyUsage: x509.KeyUsageDigitalSignature}
	switch sub {
	case "server":
		if len(hosts) == 0 {
			fmt.Fprintln(stderr, certsUsage)
			return errUsage
		}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case "client":
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		if *spiffe != "" {
			id, err := spiffeid.FromString(*spiffe)
			if err != nil {
				return fmt.Errorf("--spiffe-id %q: %w", *spiffe, err)
			}
			tmpl.URIs = []*url.URL{id.URL()}
		}
	}
	cert, key, err := signDev(tmpl, caCert, caKey, validity)
	if err != nil {
		return err
	}
	certFile, keyFile, err := writePair(*out, *name, cert, key, *force)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "certificate: %s\nkey:         %s\nsubject:     %s\nx5t#S256:    %s\n", certFile, keyFile, cert.Subject, mtls.Thumbprint(cert))
	if id, ok := mtls.SPIFFEID(cert); ok {
		fmt.Fprintf(stdout, "spiffe id:   %s\n", id)
	}
	return nil
}

func newKeyP256() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func newDevCA(name string, validity time.Duration) (*x509.Certificate, crypto.Signer, error) {
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

// signDev issues tmpl for a new key, signed by the CA.
func signDev(tmpl, ca *x509.Certificate, caKey crypto.Signer, validity time.Duration) (*x509.Certificate, crypto.Signer, error) {
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

// loadDevCA reads DIR/ca.pem and DIR/ca-key.pem.
func loadDevCA(dir string) (*x509.Certificate, crypto.Signer, error) {
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

// writePair writes DIR/base.pem (0644) and DIR/base-key.pem (0600).
func writePair(dir, base string, cert *x509.Certificate, key crypto.Signer, force bool) (string, string, error) {
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
