package attack

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/mtls/mtlstest"
)

const (
	mtlsClient     = "orders"
	ordersSPIFFE   = "spiffe://attack/ns/shop/sa/orders"
	intruderSPIFFE = "spiffe://attack/ns/shop/sa/intruder"
	certHeader     = "X-Client-Cert" // forwarded-certificate header, trusted only from 10.0.0.0/8
)

// mtlsWard is a `ward serve` with mTLS on at both listeners (RFC 8705):
// the authorization server and the gateway ask for a client certificate
// of one test CA, the client orders authenticates with tls_client_auth
// and gets certificate-bound tokens, and both listeners take a forwarded
// certificate in X-Client-Cert only from 10.0.0.0/8, so never from the
// test's 127.0.0.1.
type mtlsWard struct {
	asURL, gwURL, adminURL string
	ca                     *mtlstest.CA
	orders, intruder       *mtlstest.Cert

	hits atomic.Int64
	mu   sync.Mutex
	last http.Header // headers of the last request the upstream saw
}

func startMTLSWard(t *testing.T) *mtlsWard {
	t.Helper()
	m := &mtlsWard{ca: mtlstest.NewCA(t, "ward attack mTLS CA")}
	dir := t.TempDir()
	caFile := m.ca.WriteFile(t, dir)
	certFile, keyFile := m.ca.Issue(t, mtlstest.Options{CommonName: "127.0.0.1", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ServerOnly: true}).WriteFiles(t, dir, "server")
	m.orders = m.ca.Issue(t, mtlstest.Options{CommonName: "orders", URIs: []string{ordersSPIFFE}, ClientOnly: true})
	m.intruder = m.ca.Issue(t, mtlstest.Options{CommonName: "intruder", URIs: []string{intruderSPIFFE}, ClientOnly: true})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.hits.Add(1)
		m.mu.Lock()
		m.last = r.Header.Clone()
		m.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)

	asAddr, gwAddr, adminAddr := wardtest.FreeAddr(t), wardtest.FreeAddr(t), wardtest.FreeAddr(t)
	m.asURL, m.gwURL, m.adminURL = "https://"+asAddr, "https://"+gwAddr, "http://"+adminAddr
	cfg := fmt.Sprintf(`issuer: %[1]s
listen: %[2]s
tls: {cert_file: %[3]s, key_file: %[4]s}
behind_tls_proxy: {trusted_proxies: [10.0.0.0/8]}
data_dir: %[5]s
store: {driver: sqlite}
mtls:
  client_ca_files: [%[6]s]
  forwarded_cert_header: %[7]s
clients:
  - id: %[8]s
    auth_method: tls_client_auth
    jwks: {keys: [], tls_client_auth_san_uri: "%[9]s"}
    sender_constraint: mtls
    grant_types: [client_credentials]
    scopes: [demo:read]
    audiences: [%[10]s]
gateway:
  enabled: true
  listen: %[11]s
  admin_listen: %[12]s
  tls: {cert_file: %[3]s, key_file: %[4]s}
  behind_tls_proxy: {trusted_proxies: [10.0.0.0/8]}
  public_url: %[10]s
  mtls:
    client_ca_files: [%[6]s]
    forwarded_cert_header: %[7]s
  routes:
    - name: api
      path_prefix: /api/
      upstream: %[13]s
      policy: [{name: read, action: allow, principals: ["*"], methods: [GET]}]
`, m.asURL, asAddr, certFile, keyFile, dir, caFile, certHeader, mtlsClient, ordersSPIFFE, m.gwURL, gwAddr, adminAddr, up.URL)
	cfgPath := filepath.Join(dir, "ward.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := wardtest.Start(t, ward.bin, []string{
		"WARD_FLOW_KEY=" + wardtest.RandKey(),
		"WARD_KEY_ENCRYPTION_KEY=" + wardtest.RandKey(),
		"SSL_CERT_FILE=" + caFile,
	}, "serve", "--config", cfgPath)
	p.WaitReady(t, m.client(nil), m.asURL+"/.well-known/oauth-authorization-server", m.adminURL+"/readyz")
	return m
}

// client is an HTTPS client presenting cert (nil: none), TLS 1.3.
func (m *mtlsWard) client(cert *mtlstest.Cert) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: mtlstest.ClientTLSConfig(cert, m.ca.Pool())}}
}

func (m *mtlsWard) token(t *testing.T, cert *mtlstest.Cert, header http.Header) *response {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {mtlsClient}, "scope": {"demo:read"}}
	req, _ := http.NewRequest(http.MethodPost, m.asURL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return m.do(t, cert, req)
}

func (m *mtlsWard) do(t *testing.T, cert *mtlstest.Cert, req *http.Request) *response {
	t.Helper()
	resp, err := m.client(cert).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &r.json)
	}
	return r
}

// call sends GET /api/x with tok as a Bearer token over a connection
// presenting cert, with the extra header when set.
func (m *mtlsWard) call(t *testing.T, cert *mtlstest.Cert, tok string, header http.Header) *response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, m.gwURL+"/api/x", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range header {
		req.Header[k] = v
	}
	return m.do(t, cert, req)
}

// TestMTLSAttacks: certificate-bound tokens (RFC 8705 §3) and
// tls_client_auth (§2.1) against the binary, over real TLS connections.
func TestMTLSAttacks(t *testing.T) {
	m := startMTLSWard(t)
	spoof := http.Header{certHeader: {m.orders.Escaped()}}

	// Baseline: the registered certificate gets a bound token, which the
	// gateway forwards over a connection with that certificate.
	r := m.token(t, m.orders, nil)
	tok := r.str("access_token")
	if r.status != http.StatusOK || tok == "" || r.str("token_type") != "Bearer" {
		t.Fatalf("tls_client_auth with the registered certificate: %d %s", r.status, r.str("error"))
	}
	_, cl := decodeJWT(tok)
	cnf, _ := cl["cnf"].(map[string]any)
	if cnf["x5t#S256"] != mtls.Thumbprint(m.orders.Cert) {
		t.Fatalf("cnf %v, want x5t#S256 of the orders certificate", cl["cnf"])
	}
	if r := m.call(t, m.orders, tok, nil); r.status != http.StatusOK || m.hits.Load() != 1 {
		t.Fatalf("bound token with its certificate: %d (upstream hits %d)", r.status, m.hits.Load())
	}

	// Gateway refusals: 401 invalid_token, one rejection counted with the
	// reason, the upstream not reached.
	for _, c := range []struct {
		name   string
		cert   *mtlstest.Cert
		header http.Header
		reason string
	}{
		{"bound token with another certificate of the same CA", m.intruder, nil, "cert_mismatch"},
		{"bound token without a certificate", nil, nil, "cert_missing"},
		{"bound token without a certificate, the bound one in a spoofed forwarded-certificate header", nil, spoof, "cert_missing"},
		{"bound token with another certificate, the bound one in a spoofed forwarded-certificate header", m.intruder, spoof, "cert_mismatch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, hits := wardtest.Rejections(t, m.adminURL), m.hits.Load()
			r := m.call(t, c.cert, tok, c.header)
			if r.status != http.StatusUnauthorized || r.str("error") != "invalid_token" {
				t.Errorf("got %d %q, want 401 invalid_token", r.status, r.str("error"))
			}
			if ch := strings.Join(r.header.Values("WWW-Authenticate"), ", "); !strings.Contains(ch, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q lacks error=\"invalid_token\"", ch)
			}
			want := "invalid_token/" + c.reason
			if d := wardtest.Delta(before, wardtest.Rejections(t, m.adminURL)); len(d) != 1 || d[want] != 1 {
				t.Errorf("rejections delta = %v, want exactly %s = 1", d, want)
			}
			if m.hits.Load() != hits {
				t.Error("the refused request reached the upstream")
			}
		})
	}

	// A spoofed header on an accepted request is removed: the upstream
	// sees the identity of the connection's certificate and no header.
	t.Run("spoofed forwarded-certificate header stripped before the upstream", func(t *testing.T) {
		hits := m.hits.Load()
		r := m.call(t, m.orders, tok, http.Header{certHeader: {m.intruder.Escaped()}})
		if r.status != http.StatusOK || m.hits.Load() != hits+1 {
			t.Fatalf("got %d, want 200 forwarded", r.status)
		}
		m.mu.Lock()
		last := m.last
		m.mu.Unlock()
		if v := last.Values(certHeader); len(v) != 0 {
			t.Errorf("the upstream received %s", certHeader)
		}
		if got := last.Get("X-Ward-Cert-Thumbprint"); got != mtls.Thumbprint(m.orders.Cert) {
			t.Errorf("upstream X-Ward-Cert-Thumbprint %q, want the connection's certificate", got)
		}
		if got := last.Get("X-Ward-SPIFFE-ID"); got != ordersSPIFFE {
			t.Errorf("upstream X-Ward-SPIFFE-ID %q, want %q", got, ordersSPIFFE)
		}
	})

	// Token endpoint refusals: 401 invalid_client, no token.
	for _, c := range []struct {
		name   string
		cert   *mtlstest.Cert
		header http.Header
	}{
		{"tls_client_auth without a certificate", nil, nil},
		{"tls_client_auth with another certificate of the same CA", m.intruder, nil},
		{"tls_client_auth with a self-signed certificate of the registered SPIFFE ID", mtlstest.SelfSigned(t, mtlstest.Options{CommonName: "orders", URIs: []string{ordersSPIFFE}, ClientOnly: true}), nil},
		{"tls_client_auth without a certificate, the registered one in a spoofed forwarded-certificate header", nil, spoof},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := m.token(t, c.cert, c.header)
			wantTokenError(t, r, http.StatusUnauthorized, "invalid_client")
		})
	}

	// TLS 1.2 is refused at the handshake by both listeners, even with the
	// registered certificate; the same dial with TLS 1.3 succeeds.
	t.Run("TLS 1.2 refused at both listeners", func(t *testing.T) {
		tc := m.orders.TLSCertificate()
		for name, u := range map[string]string{"authorization server": m.asURL, "gateway": m.gwURL} {
			addr := strings.TrimPrefix(u, "https://")
			if v, err := handshake(addr, mtlstest.ClientTLSConfig(m.orders, m.ca.Pool())); err != nil || v != tls.VersionTLS13 {
				t.Fatalf("%s: TLS 1.3 handshake: version %x, %v", name, v, err)
			}
			old := &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, RootCAs: m.ca.Pool(), Certificates: []tls.Certificate{tc}}
			v, err := handshake(addr, old)
			if err == nil {
				t.Errorf("%s: a TLS 1.2 client completed the handshake (version %x)", name, v)
			} else if !strings.Contains(err.Error(), "protocol version") {
				t.Errorf("%s: TLS 1.2 refused, but not for its version: %v", name, err)
			}
		}
	})
}

func handshake(addr string, cfg *tls.Config) (uint16, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return conn.ConnectionState().Version, nil
}
