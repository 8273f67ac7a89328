package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/mtls"
)

func runWard(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	checkCLIOutput(t, args, out.String()+errb.String())
	return code, out.String(), errb.String()
}

// TestCerts: the files of `ward certs` make a working mTLS setup: a TLS 1.3
// listener from mtls.NewServerConfig accepts the client certificate, whose
// SPIFFE ID and thumbprint are what `ward certs client` printed.
func TestCerts(t *testing.T) {
	dir := t.TempDir()
	ca, srv, cli := filepath.Join(dir, "ca"), filepath.Join(dir, "server"), filepath.Join(dir, "clients")
	if code, _, errs := runWard(t, "certs", "ca", "--out", ca); code != 0 {
		t.Fatalf("certs ca: %d %s", code, errs)
	}
	if code, _, errs := runWard(t, "certs", "server", "--ca", ca, "--host", "127.0.0.1,localhost", "--out", srv); code != 0 {
		t.Fatalf("certs server: %d %s", code, errs)
	}
	code, out, errs := runWard(t, "certs", "client", "--ca", ca, "--name", "orders", "--spiffe-id", "spiffe://dev/ns/shop/sa/orders", "--out", cli)
	if code != 0 {
		t.Fatalf("certs client: %d %s", code, errs)
	}
	for _, f := range []string{"ca/ca-key.pem", "server/server-key.pem", "clients/orders-key.pem"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, fi.Mode(), err)
		}
	}

	sc, err := mtls.NewServerConfig(filepath.Join(srv, "server.pem"), filepath.Join(srv, "server-key.pem"), []string{filepath.Join(ca, "ca.pem")}, mtls.RequireClientCert())
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := mtls.ClientCertificate(r, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		id, _ := mtls.SPIFFEID(c)
		io.WriteString(w, id.String()+" "+mtls.Thumbprint(c))
	}))
	s.TLS = sc.TLSConfig()
	s.StartTLS()
	defer s.Close()

	caPEM, _ := os.ReadFile(filepath.Join(ca, "ca.pem"))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(filepath.Join(cli, "orders.pem"), filepath.Join(cli, "orders-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS13,
		ServerName: "localhost", // the DNS SAN; 127.0.0.1 is checked below
	}}}
	for _, u := range []string{s.URL, strings.Replace(s.URL, "127.0.0.1", "localhost", 1)} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := strings.Fields(string(b))
		if resp.StatusCode != 200 || len(got) != 2 || got[0] != "spiffe://dev/ns/shop/sa/orders" || !strings.Contains(out, "x5t#S256:    "+got[1]) {
			t.Fatalf("GET %s: %d %s; ward certs printed:\n%s", u, resp.StatusCode, b, out)
		}
	}
	// The server certificate is not a client certificate, and vice versa.
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("the client certificate is valid for serverAuth")
	}
}

func TestCertsErrors(t *testing.T) {
	dir := t.TempDir()
	if code, _, _ := runWard(t, "certs", "ca", "--out", dir); code != 0 {
		t.Fatal("certs ca failed")
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"certs"}, 2, "Usage: ward certs"},
		{[]string{"certs", "nope", "--out", dir}, 2, "Usage: ward certs"},
		{[]string{"certs", "ca", "--out", dir}, 1, "exists (use --force"},
		{[]string{"certs", "server", "--ca", dir, "--out", dir}, 2, "Usage"},
		{[]string{"certs", "client", "--ca", dir, "--out", dir}, 2, "Usage"},
		{[]string{"certs", "client", "--ca", dir, "--name", "../x", "--out", dir}, 1, "--name"},
		{[]string{"certs", "client", "--ca", dir, "--name", "x", "--spiffe-id", "https://x/y", "--out", dir}, 1, "--spiffe-id"},
		{[]string{"certs", "client", "--ca", t.TempDir(), "--name", "x", "--out", dir}, 1, "ward certs ca --out"},
	} {
		code, _, errs := runWard(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: %d %q, want %d %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
	if code, _, errs := runWard(t, "certs", "ca", "--out", dir, "--force"); code != 0 {
		t.Errorf("--force: %d %s", code, errs)
	}
}
