package mtls_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/mtls/mtlstest"
)

func TestThumbprint(t *testing.T) {
	ca := mtlstest.NewCA(t)
	c := ca.Issue(t, mtlstest.Options{})
	sum := sha256.Sum256(c.Cert.Raw)
	// RFC 8705 §3.1: base64url-encoded SHA-256 hash of the DER certificate, no padding.
	want := strings.TrimRight(base64.URLEncoding.EncodeToString(sum[:]), "=")
	if got := mtls.Thumbprint(c.Cert); got != want || len(got) != 43 {
		t.Fatalf("Thumbprint = %q, want %q", got, want)
	}
}

func TestSPIFFEID(t *testing.T) {
	ca := mtlstest.NewCA(t)
	for _, tc := range []struct {
		name string
		uris []string
		want string
	}{
		{"one spiffe URI", []string{"spiffe://prod/ns/payments/sa/order"}, "spiffe://prod/ns/payments/sa/order"},
		{"none", nil, ""},
		{"https URI", []string{"https://prod/x"}, ""},
		{"two URIs", []string{"spiffe://prod/a", "spiffe://prod/b"}, ""},
		{"spiffe and other", []string{"spiffe://prod/a", "https://example.com"}, ""},
		{"bad trust domain", []string{"spiffe://Prod/a"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ca.Issue(t, mtlstest.Options{URIs: tc.uris})
			id, ok := mtls.SPIFFEID(c.Cert)
			if ok != (tc.want != "") || (ok && id.String() != tc.want) {
				t.Fatalf("SPIFFEID = %q, %v; want %q", id, ok, tc.want)
			}
		})
	}
	if _, ok := mtls.SPIFFEID(nil); ok {
		t.Fatal("nil certificate has a SPIFFE ID")
	}
}

// fixture writes a server certificate and a CA to a temp dir.
type fixture struct {
	dir              string
	ca               *mtlstest.CA
	certFile, keyFil string
	caFile           string
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	ca := mtlstest.NewCA(t)
	srv := ca.Issue(t, mtlstest.Options{CommonName: "server", DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	cf, kf := srv.WriteFiles(t, dir, "server")
	return &fixture{dir: dir, ca: ca, certFile: cf, keyFil: kf, caFile: ca.WriteFile(t, dir)}
}

// serve starts an HTTPS server on cfg and returns its URL.
func serve(t *testing.T, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.TLS = cfg
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s.URL
}

func get(t *testing.T, url string, cfg *tls.Config) (string, error) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), nil
}

func whoami(w http.ResponseWriter, r *http.Request) {
	c, err := mtls.ClientCertificate(r, nil)
	if err != nil {
		io.WriteString(w, "none")
		return
	}
	io.WriteString(w, c.Subject.CommonName)
}

func TestServerConfigHandshake(t *testing.T) {
	f := newFixture(t)
	sc, err := mtls.NewServerConfig(f.certFile, f.keyFil, []string{f.caFile})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, sc.TLSConfig(), http.HandlerFunc(whoami))
	alice := f.ca.Issue(t, mtlstest.Options{CommonName: "alice", ClientOnly: true})

	if got, err := get(t, url, mtlstest.ClientTLSConfig(alice, f.ca.Pool())); err != nil || got != "alice" {
		t.Fatalf("with certificate: %q, %v", got, err)
	}
	if got, err := get(t, url, mtlstest.ClientTLSConfig(nil, f.ca.Pool())); err != nil || got != "none" {
		t.Fatalf("without certificate (optional): %q, %v", got, err)
	}
	other := mtlstest.NewCA(t, "Other CA").Issue(t, mtlstest.Options{CommonName: "mallory"})
	if _, err := get(t, url, mtlstest.ClientTLSConfig(other, f.ca.Pool())); err == nil {
		t.Fatal("certificate of another CA accepted")
	}
	expired := f.ca.Issue(t, mtlstest.Options{CommonName: "old", Expired: true})
	if _, err := get(t, url, mtlstest.ClientTLSConfig(expired, f.ca.Pool())); err == nil {
		t.Fatal("expired certificate accepted")
	}
	tls12 := mtlstest.ClientTLSConfig(alice, f.ca.Pool())
	tls12.MinVersion, tls12.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if _, err := get(t, url, tls12); err == nil {
		t.Fatal("TLS 1.2 accepted")
	}
}

func TestServerConfigRequire(t *testing.T) {
	f := newFixture(t)
	sc, err := mtls.NewServerConfig(f.certFile, f.keyFil, []string{f.caFile}, mtls.RequireClientCert())
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, sc.TLSConfig(), http.HandlerFunc(whoami))
	if _, err := get(t, url, mtlstest.ClientTLSConfig(nil, f.ca.Pool())); err == nil {
		t.Fatal("no certificate accepted with RequireClientCert")
	}
	if _, err := mtls.NewServerConfig(f.certFile, f.keyFil, nil, mtls.RequireClientCert()); !errors.Is(err, mtls.ErrConfig) {
		t.Fatalf("require without CAs: %v", err)
	}
}

func TestServerConfigUnverified(t *testing.T) {
	f := newFixture(t)
	sc, err := mtls.NewServerConfig(f.certFile, f.keyFil, []string{f.caFile}, mtls.AllowUnverifiedClientCerts())
	if err != nil {
		t.Fatal(err)
	}
	proxy := &mtls.TrustedProxy{Roots: sc}
	url := serve(t, sc.TLSConfig(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := mtls.PresentedCertificate(r, proxy)
		v, err := mtls.ClientCertificate(r, proxy)
		name := "-"
		if p != nil {
			name = p.Subject.CommonName
		}
		if err == nil {
			name += " verified " + v.Subject.CommonName
		}
		io.WriteString(w, name)
	}))
	self := mtlstest.SelfSigned(t, mtlstest.Options{CommonName: "self"})
	if got, err := get(t, url, mtlstest.ClientTLSConfig(self, f.ca.Pool())); err != nil || got != "self" {
		t.Fatalf("self-signed: %q, %v", got, err)
	}
	alice := f.ca.Issue(t, mtlstest.Options{CommonName: "alice"})
	if got, err := get(t, url, mtlstest.ClientTLSConfig(alice, f.ca.Pool())); err != nil || got != "alice verified alice" {
		t.Fatalf("CA-issued: %q, %v", got, err)
	}
	expired := f.ca.Issue(t, mtlstest.Options{CommonName: "old", Expired: true})
	if got, err := get(t, url, mtlstest.ClientTLSConfig(expired, f.ca.Pool())); err != nil || got != "old" {
		t.Fatalf("expired: %q, %v", got, err)
	}
}

func servedCN(t *testing.T, sc *mtls.ServerConfig) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", sc.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestServerConfigReload(t *testing.T) {
	f := newFixture(t)
	sc, err := mtls.NewServerConfig(f.certFile, f.keyFil, []string{f.caFile})
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := sc.ReloadIfChanged(); changed || err != nil {
		t.Fatalf("unchanged files: %v, %v", changed, err)
	}
	if cn := servedCN(t, sc); cn != "server" {
		t.Fatalf("served %q", cn)
	}
	// An invalid certificate is refused and the old one keeps being served.
	if err := os.WriteFile(f.certFile, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := sc.ReloadIfChanged(); !changed || !errors.Is(err, mtls.ErrConfig) {
		t.Fatalf("invalid file: %v, %v", changed, err)
	}
	if cn := servedCN(t, sc); cn != "server" {
		t.Fatalf("after failed reload served %q", cn)
	}
	// A new valid pair is picked up.
	next := f.ca.Issue(t, mtlstest.Options{CommonName: "server-2"})
	next.WriteFiles(t, f.dir, "server")
	if err := sc.Reload(); err != nil {
		t.Fatal(err)
	}
	if cn := servedCN(t, sc); cn != "server-2" {
		t.Fatalf("after reload served %q", cn)
	}
	// A CA file without certificates is refused.
	if err := os.WriteFile(f.caFile, []byte("nothing"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sc.Reload(); !errors.Is(err, mtls.ErrConfig) || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("empty CA file: %v", err)
	}
	if sc.ClientCAs() == nil {
		t.Fatal("client CAs lost after failed reload")
	}
}

func TestServerConfigWatch(t *testing.T) {
	f := newFixture(t)
	sc, err := mtls.NewServerConfig(f.certFile, f.keyFil, []string{f.caFile}, mtls.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go sc.Watch(ctx, 10*time.Millisecond)
	next := f.ca.Issue(t, mtlstest.Options{CommonName: "server-3"})
	next.WriteFiles(t, f.dir, "server")
	// Make sure the mtime differs even on coarse-grained file systems.
	future := time.Now().Add(time.Minute)
	os.Chtimes(f.certFile, future, future)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if servedCN(t, sc) == "server-3" {
			return
		}
	}
	t.Fatal("Watch did not pick up the new certificate")
}

func TestTrustedProxy(t *testing.T) {
	ca := mtlstest.NewCA(t)
	alice := ca.Issue(t, mtlstest.Options{CommonName: "alice"})
	p := &mtls.TrustedProxy{
		Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Roots:   mtls.StaticPool{Pool: ca.Pool()},
	}
	req := func(remote, header string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if header != "" {
			r.Header.Set(mtls.DefaultForwardedHeader, header)
		}
		return r
	}
	otherCA := mtlstest.NewCA(t, "Other")
	for _, tc := range []struct {
		name, remote, header string
		want                 error
	}{
		{"trusted", "10.1.2.3:5555", alice.Escaped(), nil},
		{"trusted IPv4-mapped", "[::ffff:10.1.2.3]:5555", alice.Escaped(), nil},
		{"untrusted source ignored", "192.0.2.1:5555", alice.Escaped(), mtls.ErrNoCertificate},
		{"no header", "10.1.2.3:5555", "", mtls.ErrNoCertificate},
		{"garbage", "10.1.2.3:5555", "%ZZ", mtls.ErrForwardedCert},
		{"other CA", "10.1.2.3:5555", otherCA.Issue(t, mtlstest.Options{}).Escaped(), mtls.ErrUntrustedCert},
		{"expired", "10.1.2.3:5555", ca.Issue(t, mtlstest.Options{Expired: true}).Escaped(), mtls.ErrUntrustedCert},
		{"server-only usage", "10.1.2.3:5555", ca.Issue(t, mtlstest.Options{ServerOnly: true}).Escaped(), mtls.ErrUntrustedCert},
		{"self-signed", "10.1.2.3:5555", mtlstest.SelfSigned(t, mtlstest.Options{}).Escaped(), mtls.ErrUntrustedCert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := mtls.ClientCertificate(req(tc.remote, tc.header), p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil && c.Subject.CommonName != "alice" {
				t.Fatalf("got %q", c.Subject.CommonName)
			}
		})
	}

	// The self-signed certificate is presented (for self_signed_tls_client_auth).
	self := mtlstest.SelfSigned(t, mtlstest.Options{CommonName: "self"})
	if c, err := mtls.PresentedCertificate(req("10.0.0.1:1", self.Escaped()), p); err != nil || c.Subject.CommonName != "self" {
		t.Fatalf("presented: %v, %v", c, err)
	}
	if _, err := mtls.PresentedCertificate(req("192.0.2.1:1", self.Escaped()), p); !errors.Is(err, mtls.ErrNoCertificate) {
		t.Fatalf("presented from untrusted source: %v", err)
	}

	// Two headers are refused.
	r := req("10.1.2.3:1", alice.Escaped())
	r.Header.Add(mtls.DefaultForwardedHeader, alice.Escaped())
	if _, err := mtls.ClientCertificate(r, p); !errors.Is(err, mtls.ErrForwardedCert) {
		t.Fatalf("two headers: %v", err)
	}

	// Strip removes the header from untrusted sources only.
	r = req("192.0.2.1:1", alice.Escaped())
	p.Strip(r)
	if r.Header.Get(mtls.DefaultForwardedHeader) != "" {
		t.Fatal("header kept from an untrusted source")
	}
	r = req("10.0.0.1:1", alice.Escaped())
	p.Strip(r)
	if r.Header.Get(mtls.DefaultForwardedHeader) == "" {
		t.Fatal("header stripped from a trusted proxy")
	}
	var none *mtls.TrustedProxy
	r = req("10.0.0.1:1", alice.Escaped())
	none.Strip(r)
	if r.Header.Get(mtls.DefaultForwardedHeader) != "" {
		t.Fatal("nil proxy kept the header")
	}
}

func TestParseForwardedCert(t *testing.T) {
	ca := mtlstest.NewCA(t)
	c := ca.Issue(t, mtlstest.Options{CommonName: "alice"})
	for _, v := range []string{c.Escaped(), `"` + c.Escaped() + `"`, string(c.CertPEM)} {
		got, err := mtls.ParseForwardedCert(v)
		if err != nil || !got.Equal(c.Cert) {
			t.Fatalf("ParseForwardedCert: %v", err)
		}
	}
	for _, v := range []string{"", "%", c.Escaped() + c.Escaped(), strings.Repeat("A", 20000), strings.ReplaceAll(c.Escaped(), "CERTIFICATE", "PRIVATE%20KEY")} {
		if _, err := mtls.ParseForwardedCert(v); !errors.Is(err, mtls.ErrForwardedCert) {
			t.Fatalf("%.40q: %v", v, err)
		}
	}
}

func FuzzParseForwardedCert(f *testing.F) {
	ca := mtlstest.NewCA(f)
	f.Add(ca.Issue(f, mtlstest.Options{URIs: []string{"spiffe://dev/x"}}).Escaped())
	f.Add("-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----%0A")
	f.Add(`"%41"`)
	f.Fuzz(func(t *testing.T, v string) {
		c, err := mtls.ParseForwardedCert(v)
		if (c == nil) == (err == nil) {
			t.Fatalf("cert %v with err %v", c, err)
		}
		if err != nil && !errors.Is(err, mtls.ErrForwardedCert) {
			t.Fatalf("unwrapped error %v", err)
		}
	})
}
