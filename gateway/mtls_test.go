package gateway_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/resource"
)

const (
	orderService  = "spiffe://prod/ns/payments/sa/order-service"
	refundService = "spiffe://prod/ns/payments/sa/refund-service"
)

// syncBuffer collects the gateway's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitLog waits for a log line holding every fragment.
func (s *syncBuffer) waitLog(t *testing.T, fragments ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(s.String(), "\n") {
			ok := true
			for _, f := range fragments {
				ok = ok && strings.Contains(line, f)
			}
			if ok {
				return line
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log line with %q in:\n%s", fragments, s.String())
	return ""
}

// mtlsEnv is a gateway with gateway.mtls, its CA, its log and registry.
type mtlsEnv struct {
	*env
	ca     *mtlstest.CA
	caFile string
	dir    string
	log    *syncBuffer
	reg    *prometheus.Registry
	url    string // of the TLS listener, when served
}

// charges is the route of issue 5's example: only order-service may POST
// /api/v1/charges, by certificate alone.
var charges = config.Route{Name: "charges", PathPrefix: "/api/v1/charges", Upstream: "", Policy: []config.PolicyRule{
	{Action: "allow", Principals: []string{orderService}, Methods: []string{"POST"}},
}}

func newMTLSEnv(t *testing.T, tlsListener bool, mod func(*config.Gateway)) *mtlsEnv {
	t.Helper()
	e := &env{t: t, seen: make(chan http.Header, 16)}
	e.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e.signer, _ = dpop.NewSigner(ck, dpop.WithClock(func() time.Time { return testNow }))
	e.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.seen <- r.Header.Clone()
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(e.upstream.Close)
	m := &mtlsEnv{env: e, ca: mtlstest.NewCA(t), dir: t.TempDir(), log: &syncBuffer{}, reg: prometheus.NewRegistry()}
	m.caFile = m.ca.WriteFile(t, m.dir)
	e.cfg = config.DefaultGateway()
	e.cfg.Enabled = true
	e.cfg.Issuer = issuerURL
	e.cfg.PublicURL = publicURL
	ch := charges
	ch.Upstream = e.upstream.URL
	e.cfg.Routes = []config.Route{
		{Name: "orders", PathPrefix: "/orders/", Upstream: e.upstream.URL, AllowBearer: false, Policy: []config.PolicyRule{
			{Action: "allow", Principals: []string{"client:app"}},
		}},
		ch,
	}
	e.cfg.MTLS.ClientCAFiles = []string{m.caFile}
	e.cfg.MTLS.CertificateRoutes = []string{"charges"}
	if tlsListener {
		srv := m.ca.Issue(t, mtlstest.Options{CommonName: "gateway", DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
		e.cfg.TLS.CertFile, e.cfg.TLS.KeyFile = srv.WriteFiles(t, m.dir, "server")
	}
	if mod != nil {
		mod(&e.cfg)
	}
	full := config.Default()
	full.Gateway = e.cfg
	full.Issuer = issuerURL
	if err := full.ValidateGateway(); err != nil {
		t.Fatalf("the test configuration does not validate: %v", err)
	}
	var err error
	e.gw, err = gateway.New(&e.cfg, gateway.Options{
		Clock:    func() time.Time { return testNow },
		Keys:     resource.StaticKeys{Keys: []jose.JSONWebKey{{Key: &e.key.PublicKey, KeyID: "k1", Algorithm: "ES256"}}},
		Logger:   slog.New(slog.NewTextHandler(m.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry: m.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	if tlsListener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.gw.Serve(ctx, ln, nil) }()
		t.Cleanup(func() { cancel(); <-done })
		m.url = "https://" + ln.Addr().String()
	}
	return m
}

// client returns an HTTP client presenting cert (nil: none) over TLS 1.3.
func (m *mtlsEnv) client(cert *mtlstest.Cert) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: mtlstest.ClientTLSConfig(cert, m.ca.Pool())}, Timeout: 5 * time.Second}
}

// do sends a request over the TLS listener with an optional
// Authorization header and extra headers.
func (m *mtlsEnv) do(c *http.Client, method, path, auth string, hdr map[string]string) (*http.Response, error) {
	r, _ := http.NewRequest(method, m.url+path, nil)
	r.Host = strings.TrimPrefix(publicURL, "https://")
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := c.Do(r)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func (m *mtlsEnv) rejections(reason, code string) float64 {
	mf, _ := m.reg.Gather()
	for _, f := range mf {
		if f.GetName() != "ward_gateway_rejections_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			var r, c string
			for _, l := range s.GetLabel() {
				switch l.GetName() {
				case "reason":
					r = l.GetValue()
				case "error":
					c = l.GetValue()
				}
			}
			if r == reason && c == code {
				return s.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// certBound is a bearer-scheme token bound to cert (RFC 8705 §3.1).
func (m *mtlsEnv) certBound(cert *mtlstest.Cert, extra map[string]any) string {
	c := map[string]any{"cnf": map[string]any{"x5t#S256": mtls.Thumbprint(cert.Cert)}}
	for k, v := range extra {
		c[k] = v
	}
	return m.token(c)
}

func TestMTLSCertificateBoundToken(t *testing.T) {
	m := newMTLSEnv(t, true, nil)
	alice := m.ca.Issue(t, mtlstest.Options{CommonName: "app", URIs: []string{orderService}, ClientOnly: true})
	other := m.ca.Issue(t, mtlstest.Options{CommonName: "other", ClientOnly: true})
	tok := m.certBound(alice, nil)
	spoofed := map[string]string{"X-Ward-Spiffe-Id": "spiffe://prod/admin", "X-Ward-Cert-Thumbprint": "forged"}

	resp, err := m.do(m.client(alice), "GET", "/orders/1", "Bearer "+tok, spoofed)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("right certificate: %v %v", resp, err)
	}
	up := m.upstreamSaw()
	if got := up.Get("X-Ward-Cert-Thumbprint"); got != mtls.Thumbprint(alice.Cert) {
		t.Errorf("upstream thumbprint %q", got)
	}
	if got := up.Values("X-Ward-Spiffe-Id"); len(got) != 1 || got[0] != orderService {
		t.Errorf("upstream SPIFFE ID %q", got)
	}
	if up.Get("X-Ward-Subject") != "alice" || up.Get("Authorization") != "" {
		t.Errorf("upstream identity %v", up)
	}

	for _, tc := range []struct {
		name   string
		client *http.Client
		reason string
	}{
		{"another certificate", m.client(other), resource.ReasonCertMismatch},
		{"no certificate", m.client(nil), resource.ReasonCertMissing},
	} {
		before := m.rejections(tc.reason, "invalid_token")
		resp, err := m.do(tc.client, "GET", "/orders/1", "Bearer "+tok, nil)
		if err != nil || resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("%s: %v %v", tc.name, resp, err)
		}
		if got := m.rejections(tc.reason, "invalid_token") - before; got != 1 {
			t.Errorf("%s: rejections{reason=%s} moved by %v", tc.name, tc.reason, got)
		}
		m.log.waitLog(t, "request rejected", "reason="+tc.reason)
	}
	if h := m.upstreamSaw(); h != nil {
		t.Errorf("a refused request reached the upstream: %v", h)
	}
}

// A token bound both ways (cnf.jkt and cnf.x5t#S256) needs the DPoP proof
// and the certificate.
func TestMTLSTokenBoundBothWays(t *testing.T) {
	m := newMTLSEnv(t, true, nil)
	alice := m.ca.Issue(t, mtlstest.Options{ClientOnly: true})
	other := m.ca.Issue(t, mtlstest.Options{ClientOnly: true})
	tok := m.token(map[string]any{"cnf": map[string]any{"jkt": m.signer.Thumbprint(), "x5t#S256": mtls.Thumbprint(alice.Cert)}})
	proof := func() map[string]string {
		p, err := m.signer.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"DPoP": p}
	}
	if resp, err := m.do(m.client(alice), "GET", "/orders/1", "DPoP "+tok, proof()); err != nil || resp.StatusCode != 200 {
		t.Fatalf("proof and certificate: %v %v", resp, err)
	}
	if resp, err := m.do(m.client(other), "GET", "/orders/1", "DPoP "+tok, proof()); err != nil || resp.StatusCode != 401 {
		t.Fatalf("proof, wrong certificate: %v %v", resp, err)
	}
	m.log.waitLog(t, "request rejected", "reason=cert_mismatch")
	if resp, err := m.do(m.client(alice), "GET", "/orders/1", "Bearer "+tok, nil); err != nil || resp.StatusCode != 401 {
		t.Fatalf("certificate, no proof: %v %v", resp, err)
	}
	m.log.waitLog(t, "request rejected", "reason="+resource.ReasonDPoPAsBearer)
}

// Issue 5: only spiffe://prod/ns/payments/sa/order-service may POST
// /api/v1/charges; the route authenticates by certificate alone.
func TestMTLSSPIFFEPolicyCharges(t *testing.T) {
	m := newMTLSEnv(t, true, nil)
	order := m.ca.Issue(t, mtlstest.Options{URIs: []string{orderService}, ClientOnly: true})
	refund := m.ca.Issue(t, mtlstest.Options{URIs: []string{refundService}, ClientOnly: true})
	plain := m.ca.Issue(t, mtlstest.Options{ClientOnly: true})

	resp, err := m.do(m.client(order), "POST", "/api/v1/charges", "", map[string]string{"X-Ward-Subject": "forged"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("order-service: %v %v", resp, err)
	}
	up := m.upstreamSaw()
	if up.Get("X-Ward-Spiffe-Id") != orderService || up.Get("X-Ward-Subject") != orderService || up.Get("X-Ward-Client") != "" {
		t.Errorf("upstream identity: %v", up)
	}
	for _, tc := range []struct {
		name           string
		c              *http.Client
		method         string
		status         int
		reason, error_ string
	}{
		{"refund-service", m.client(refund), "POST", 403, "policy_no_matching_rule", "access_denied"},
		{"order-service reading", m.client(order), "GET", 403, "policy_no_matching_rule", "access_denied"},
		{"no certificate", m.client(nil), "POST", 401, resource.ReasonCertMissing, "invalid_request"},
		{"no SPIFFE ID", m.client(plain), "POST", 401, gateway.ReasonCertNoSPIFFEID, "invalid_request"},
	} {
		before := m.rejections(tc.reason, tc.error_)
		resp, err := m.do(tc.c, tc.method, "/api/v1/charges", "", nil)
		if err != nil || resp.StatusCode != tc.status {
			t.Fatalf("%s: %v %v", tc.name, resp, err)
		}
		if got := m.rejections(tc.reason, tc.error_) - before; got != 1 {
			t.Errorf("%s: rejections{reason=%s,error=%s} moved by %v", tc.name, tc.reason, tc.error_, got)
		}
	}
	m.log.waitLog(t, "request denied by policy", "spiffe_id="+refundService)
	if h := m.upstreamSaw(); h != nil {
		t.Errorf("a refused request reached the upstream: %v", h)
	}
}

func TestMTLSListenerRefuses(t *testing.T) {
	m := newMTLSEnv(t, true, nil)
	good := m.ca.Issue(t, mtlstest.Options{ClientOnly: true})
	expired := m.ca.Issue(t, mtlstest.Options{Expired: true, ClientOnly: true})
	stranger := mtlstest.NewCA(t, "Other CA").Issue(t, mtlstest.Options{ClientOnly: true})

	tls12 := m.client(good)
	tls12.Transport.(*http.Transport).TLSClientConfig.MinVersion = tls.VersionTLS12
	tls12.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS12
	for _, tc := range []struct {
		name   string
		c      *http.Client
		reason string
	}{
		{"TLS 1.2", tls12, "tls_version"},
		{"expired certificate", m.client(expired), "cert_expired"},
		{"certificate of another CA", m.client(stranger), "cert_untrusted"},
	} {
		resp, err := m.do(tc.c, "GET", "/orders/1", "", nil)
		if err == nil {
			t.Fatalf("%s: handshake accepted: %v", tc.name, resp.Status)
		}
		m.log.waitLog(t, "TLS handshake refused", "reason="+tc.reason)
		if got := counter(t, m.reg, "ward_gateway_tls_handshake_failures_total", tc.reason); got != 1 {
			t.Errorf("%s: handshake failures{reason=%s} = %v", tc.name, tc.reason, got)
		}
	}
	// The listener still serves good clients.
	if resp, err := m.do(m.client(good), "GET", "/orders/1", "", nil); err != nil || resp.StatusCode != 401 {
		t.Fatalf("good client: %v %v", resp, err)
	}
}

// counter finds the series of a counter vector by its reason label.
func counter(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mf, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mf {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return s.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{reason=%q}", name, reason)
	return 0
}

func TestMTLSReloadPicksUpNewCA(t *testing.T) {
	m := newMTLSEnv(t, true, nil)
	ca2 := mtlstest.NewCA(t, "Second CA")
	c2 := ca2.Issue(t, mtlstest.Options{URIs: []string{orderService}, ClientOnly: true})
	if _, err := m.do(m.client(c2), "POST", "/api/v1/charges", "", nil); err == nil {
		t.Fatal("a certificate of a CA not configured yet was accepted")
	}
	m.log.waitLog(t, "TLS handshake refused", "reason=cert_untrusted")
	bundle := append(append([]byte{}, m.ca.CertPEM...), ca2.CertPEM...)
	if err := os.WriteFile(m.caFile, bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := m.gw.ReloadCertificates(); !changed || err != nil {
		t.Fatalf("ReloadCertificates: %v %v", changed, err)
	}
	// New connections see the new CA; the old connection pool is not reused.
	if resp, err := m.do(m.client(c2), "POST", "/api/v1/charges", "", nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after reload: %v %v", resp, err)
	}
	// A broken file keeps the running CAs.
	if err := os.WriteFile(m.caFile, []byte("not pem, and longer than before ......................................................"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.gw.ReloadCertificates(); err == nil {
		t.Fatal("a broken CA file was accepted")
	}
	if resp, err := m.do(m.client(c2), "POST", "/api/v1/charges", "", nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after a refused reload: %v %v", resp, err)
	}
}

// TLS terminated by a proxy: the certificate comes in forwarded_cert_header
// from a trusted address only.
func TestMTLSTrustedProxyHeader(t *testing.T) {
	m := newMTLSEnv(t, false, func(g *config.Gateway) {
		g.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		g.MTLS.ForwardedCertHeader = "X-Client-Cert"
	})
	alice := m.ca.Issue(t, mtlstest.Options{URIs: []string{orderService}, ClientOnly: true})
	stranger := mtlstest.NewCA(t, "Other CA").Issue(t, mtlstest.Options{URIs: []string{orderService}, ClientOnly: true})
	tok := m.certBound(alice, nil)
	send := func(remote, path, auth, cert string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", publicURL+path, nil)
		r.RemoteAddr = remote
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if cert != "" {
			r.Header.Set("X-Client-Cert", cert)
		}
		w := httptest.NewRecorder()
		m.gw.Handler().ServeHTTP(w, r)
		return w
	}

	// From the proxy: accepted, and the header is not forwarded.
	if w := send("10.1.2.3:4444", "/orders/1", "Bearer "+tok, alice.Escaped()); w.Code != 200 {
		t.Fatalf("trusted proxy: %d %s", w.Code, w.Body)
	}
	up := m.upstreamSaw()
	if up.Get("X-Client-Cert") != "" || up.Get("X-Ward-Spiffe-Id") != orderService {
		t.Errorf("upstream headers: %v", up)
	}
	if w := send("10.1.2.3:4444", "/api/v1/charges", "", alice.Escaped()); w.Code != 200 {
		t.Fatalf("trusted proxy, certificate route: %d %s", w.Code, w.Body)
	}
	if up := m.upstreamSaw(); up.Get("X-Client-Cert") != "" {
		t.Errorf("forwarded certificate reached the upstream: %v", up)
	}

	// From anywhere else the header is ignored.
	if w := send("203.0.113.9:4444", "/orders/1", "Bearer "+tok, alice.Escaped()); w.Code != 401 {
		t.Fatalf("untrusted source: %d", w.Code)
	}
	m.log.waitLog(t, "request rejected", "reason=cert_missing", "remote=203.0.113.9")
	if w := send("203.0.113.9:4444", "/api/v1/charges", "", alice.Escaped()); w.Code != 401 {
		t.Fatalf("untrusted source, certificate route: %d", w.Code)
	}
	// From the proxy, a certificate of another CA, or garbage, is refused.
	for _, cert := range []string{stranger.Escaped(), "garbage"} {
		if w := send("10.1.2.3:4444", "/orders/1", "Bearer "+tok, cert); w.Code != 401 {
			t.Fatalf("trusted proxy, bad certificate: %d", w.Code)
		}
	}
	m.log.waitLog(t, "request rejected", "reason=cert_invalid")
	if h := m.upstreamSaw(); h != nil {
		t.Errorf("a refused request reached the upstream: %v", h)
	}
}

// TestAuthorizerForwardedCertificate: the forward-auth endpoint takes the
// client certificate from its trusted proxy's forwarded_cert_header and
// verifies it as the gateway's listener does, for certificate-bound
// tokens and certificate-only routes.
func TestAuthorizerForwardedCertificate(t *testing.T) {
	m := newMTLSEnv(t, false, func(g *config.Gateway) {
		g.Authorizer.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		g.MTLS.ForwardedCertHeader = "X-Client-Cert"
	})
	alice := m.ca.Issue(t, mtlstest.Options{URIs: []string{orderService}, ClientOnly: true})
	stranger := mtlstest.NewCA(t, "Other CA").Issue(t, mtlstest.Options{URIs: []string{orderService}, ClientOnly: true})
	tok := m.certBound(alice, nil)
	check := func(path, auth, cert string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "http://ward.internal/_ward/authorize", nil)
		r.Header.Set("X-Original-Method", "POST")
		r.Header.Set("X-Original-URI", path)
		r.Header.Set("X-Forwarded-Proto", "https")
		r.Header.Set("X-Forwarded-Host", "gw.example")
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if cert != "" {
			r.Header.Set("X-Client-Cert", cert)
		}
		w := httptest.NewRecorder()
		m.gw.Handler().ServeHTTP(w, r)
		return w
	}
	if w := check("/api/v1/charges", "", alice.Escaped()); w.Code != 200 || w.Header().Get("X-Ward-Spiffe-Id") != orderService {
		t.Fatalf("certificate route: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if w := check("/orders/1", "Bearer "+tok, alice.Escaped()); w.Code != 200 || w.Header().Get("X-Ward-Cert-Thumbprint") != mtls.Thumbprint(alice.Cert) {
		t.Fatalf("certificate-bound token: %d %v %s", w.Code, w.Header(), w.Body)
	}
	for name, cert := range map[string]string{"another CA": stranger.Escaped(), "none": ""} {
		if w := check("/orders/1", "Bearer "+tok, cert); w.Code != 401 {
			t.Fatalf("%s: %d %s", name, w.Code, w.Body)
		}
		if w := check("/api/v1/charges", "", cert); w.Code != 401 {
			t.Fatalf("%s, certificate route: %d %s", name, w.Code, w.Body)
		}
	}
}
