package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wardauth/ward/internal/devpki"
	"github.com/wardauth/ward/mtls"
)

// `ward certs` makes a development PKI for trying mTLS locally
// (docs/MTLS.md); the PKI itself is package internal/devpki.

func init() {
	register(command{name: "certs", summary: "create a development CA, server and client (SPIFFE) certificates for mTLS", run: runCerts})
}

const certsUsage = `Usage: ward certs <ca|server|client> [flags]
  ca     --out DIR [--name "Ward Dev CA"] [--days 365]
  server --ca DIR --host 127.0.0.1,localhost --out DIR [--name server] [--days 90]
  client --ca DIR --name NAME [--spiffe-id spiffe://dev/ns/x/sa/y] --out DIR [--days 30]
Files: DIR/ca.pem and ca-key.pem; DIR/NAME.pem and NAME-key.pem (keys 0600).
Existing files are kept unless --force. For development only.`

func runCerts(_ context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, stderr, certsUsage)
	if err != nil {
		return err
	}
	f, err := parseCerts(sub, rest, stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	if sub == "ca" {
		return makeCA(f, stdout)
	}
	if f.caDir == "" || !devpki.FileName.MatchString(f.name) || (sub == "server" && len(f.hosts) == 0) {
		fmt.Fprintln(stderr, certsUsage)
		if f.name != "" && !devpki.FileName.MatchString(f.name) {
			return fmt.Errorf("--name %q: use letters, digits, '.', '_' and '-'", f.name)
		}
		return errUsage
	}
	tmpl := devpki.ServerTemplate(f.name, f.hosts)
	if sub == "client" {
		if tmpl, err = devpki.ClientTemplate(f.name, f.spiffe); err != nil {
			return fmt.Errorf("--spiffe-id %q: %w", f.spiffe, err)
		}
	}
	return issueCert(f, tmpl, stdout)
}

// certsFlags are the flags of `ward certs SUB`.
type certsFlags struct {
	out, caDir, name, spiffe string
	hosts                    listFlag
	force                    bool
	validity                 time.Duration
}

func parseCerts(sub string, args []string, stderr io.Writer) (*certsFlags, error) {
	var f certsFlags
	fs := newFlagSet("certs "+sub, "certs "+sub+" [flags]", stderr)
	fs.StringVar(&f.out, "out", "", "output directory (required)")
	fs.BoolVar(&f.force, "force", false, "overwrite existing files")
	days := 30
	switch sub {
	case "ca":
		fs.StringVar(&f.name, "name", "Ward Dev CA", "the CA's common name")
		days = 365
	case "server":
		fs.StringVar(&f.caDir, "ca", "", "directory of ca.pem and ca-key.pem (required)")
		fs.StringVar(&f.name, "name", "server", "file name and common name")
		fs.Var(&f.hosts, "host", "DNS names and IP addresses, comma-separated or repeated (`hosts`; required)")
		days = 90
	case "client":
		fs.StringVar(&f.caDir, "ca", "", "directory of ca.pem and ca-key.pem (required)")
		fs.StringVar(&f.name, "name", "", "client name: common name and file name (required)")
		fs.StringVar(&f.spiffe, "spiffe-id", "", "SPIFFE ID put in the URI SAN, e.g. spiffe://dev/ns/shop/sa/orders")
	default:
		fmt.Fprintln(stderr, certsUsage)
		return nil, errUsage
	}
	fs.IntVar(&days, "days", days, "validity in days")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if f.out == "" || fs.NArg() > 0 || days < 1 || days > 3650 {
		fmt.Fprintln(stderr, certsUsage)
		return nil, errUsage
	}
	f.validity = time.Duration(days) * 24 * time.Hour
	return &f, nil
}

// makeCA writes a new CA and prints where.
func makeCA(f *certsFlags, stdout io.Writer) error {
	cert, key, err := devpki.NewCA(f.name, f.validity)
	if err != nil {
		return err
	}
	certFile, keyFile, err := devpki.WritePair(f.out, "ca", cert, key, f.force)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "CA certificate: %s\nCA key:         %s (keep it private)\n", certFile, keyFile)
	return nil
}

// issueCert signs tmpl with the CA of f.caDir, writes it and prints what
// it holds.
func issueCert(f *certsFlags, tmpl *x509.Certificate, stdout io.Writer) error {
	caCert, caKey, err := devpki.LoadCA(f.caDir)
	if err != nil {
		return err
	}
	cert, key, err := devpki.Issue(tmpl, caCert, caKey, f.validity)
	if err != nil {
		return err
	}
	certFile, keyFile, err := devpki.WritePair(f.out, f.name, cert, key, f.force)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "certificate: %s\nkey:         %s\nsubject:     %s\nx5t#S256:    %s\n", certFile, keyFile, cert.Subject, mtls.Thumbprint(cert))
	if id, ok := mtls.SPIFFEID(cert); ok {
		fmt.Fprintf(stdout, "spiffe id:   %s\n", id)
	}
	return nil
}
