package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"github.com/wardauth/ward/oauth"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/demo"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// The mTLS system's workloads (RFC 8705, docs/MTLS.md).
const (
	mtlsClient     = "orders"                           // tls_client_auth, registered by its SPIFFE ID
	ordersSPIFFE   = "spiffe://e2e/ns/shop/sa/orders"   // the registered client's certificate
	intruderSPIFFE = "spiffe://e2e/ns/shop/sa/intruder" // same CA, another workload
	workloadPath   = "/workload/"                       // the certificate-only route
)

// mtlsSystem is the authorization server and the gateway on loopback TLS
// listeners (TLS 1.3 only, client certificates verified against one test
// CA), sharing one clock, with a recording upstream behind the gateway.
type mtlsSystem struct {
	t        *testing.T
	clk      *clock
	log      *wardtest.SyncBuffer
	ca       *mtlstest.CA
	asURL    string // https issuer
	gwURL    string // https gateway, the client's audience
	adminURL string // plain HTTP admin listener of the gateway

	orders   *mtlstest.Cert // the registered client's certificate
	intruder *mtlstest.Cert // another certificate of the same CA

	hits atomic.Int64 // requests that reached the upstream
	mu   sync.Mutex
	seen []upstreamSeen
}

func newMTLSSystem(t *testing.T) *mtlsSystem {
	t.Helper()
	ctx := context.Background()
	s := &mtlsSystem{
		t: t, log: &wardtest.SyncBuffer{},
		clk: &clock{t: time.Now().UTC().Truncate(time.Second)},
		ca:  mtlstest.NewCA(t, "Ward e2e CA"),
	}
	logger := slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()

	// The PKI: one CA for the servers and the workloads, written where
	// the configuration reads it.
	caFile := s.ca.WriteFile(t, dir)
	srvCert := s.ca.Issue(t, mtlstest.Options{CommonName: "localhost", DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ServerOnly: true})
	certFile, keyFile := srvCert.WriteFiles(t, dir, "server")
	s.orders = s.ca.Issue(t, mtlstest.Options{CommonName: "orders", URIs: []string{ordersSPIFFE}, ClientOnly: true})
	s.intruder = s.ca.Issue(t, mtlstest.Options{CommonName: "intruder", URIs: []string{intruderSPIFFE}, ClientOnly: true})

	asLn := listen(t)
	gwLn := listen(t)
	admLn := listen(t)
	s.asURL = "https://" + asLn.Addr().String()
	s.gwURL = "https://" + gwLn.Addr().String()
	s.adminURL = "http://" + admLn.Addr().String()

	cfg := config.Dev(dir)
	cfg.Issuer = s.asURL
	cfg.Listen = asLn.Addr().String()
	cfg.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	cfg.MTLS.ClientCAFiles = []string{caFile}
	cfg.Gateway = s.gatewayConfig(gwLn.Addr().String(), admLn.Addr().String(), certFile, keyFile, caFile)
	if err := cfg.ValidateGateway(); err != nil {
		t.Fatalf("gateway configuration: %v", err)
	}

	// The authorization server.
	st, err := sqlstore.OpenSQLite(ctx, dir+"/ward.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var kek keys.KEK
	if _, err := rand.Read(kek[:]); err != nil {
		t.Fatal(err)
	}
	km, err := keys.New(st, []keys.KEK{kek}, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.EnsureKey(ctx, s.clk.Now()); err != nil {
		t.Fatal(err)
	}
	c := store.Client{ID: mtlsClient, Name: "E2E mTLS workload", AuthMethod: oauth.AuthTLSClient,
		JWKS:       authz.TLSClientAuthJWKS(authz.TLSClientAuth{SANURI: ordersSPIFFE}),
		GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, Scopes: []string{"demo:read"},
		Audiences: []string{s.gwURL}, SenderConstraint: store.ConstraintMTLS}
	if secret, err := authz.CreateClient(ctx, st, &c, s.clk.Now()); err != nil {
		t.Fatal(err)
	} else if secret != "" {
		t.Fatalf("a tls_client_auth client got a secret")
	}
	mt, proxy, err := authz.NewMTLS(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	if mt == nil || proxy == nil {
		t.Fatal("authz.NewMTLS: mTLS is off with tls and mtls.client_ca_files set")
	}
	nonceSecret := make([]byte, 32)
	if _, err := rand.Read(nonceSecret); err != nil {
		t.Fatal(err)
	}
	as, err := authz.New(cfg, authz.Options{Store: st, Keys: km, Logger: logger, Now: s.clk.Now, NonceSecret: nonceSecret, MTLS: proxy})
	if err != nil {
		t.Fatal(err)
	}
	asSrv := &http.Server{Handler: as.Handler(), TLSConfig: mt.TLSConfig(), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	asDone := make(chan error, 1)
	go func() { asDone <- asSrv.ServeTLS(asLn, certFile, keyFile) }()
	t.Cleanup(func() {
		_ = asSrv.Close()
		if err := <-asDone; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("authorization server ServeTLS: %v", err)
		}
	})

	// The upstream records what reaches it: the demo API under /demo/,
	// a plain answer for the workload route.
	demoAPI := demo.Upstream()
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		s.seen = append(s.seen, upstreamSeen{method: r.Method, path: r.URL.Path, header: r.Header.Clone()})
		s.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, workloadPath) {
			_, _ = io.WriteString(w, "workload ok\n")
			return
		}
		demoAPI.ServeHTTP(w, r)
	})

	// The gateway discovers the issuer's keys over HTTPS, trusting the
	// test CA; Serve adds TLS to the plain listener.
	gw, err := gateway.New(&cfg.Gateway, gateway.Options{
		Issuer:     cfg.GatewayIssuer(),
		Logger:     logger,
		Clock:      s.clk.Now,
		HTTPClient: s.httpClient(nil),
		Upstreams:  map[string]http.Handler{config.BuiltinDemo: upstream},
	})
	if err != nil {
		t.Fatal(err)
	}
	gwCtx, stop := context.WithCancel(context.Background())
	gwDone := make(chan error, 1)
	go func() { gwDone <- gw.Serve(gwCtx, gwLn, admLn) }()
	t.Cleanup(func() {
		stop()
		if err := <-gwDone; err != nil {
			t.Errorf("gateway Serve: %v", err)
		}
	})
	return s
}

// gatewayConfig: /demo/ for the orders client's certificate-bound token
// (no allow_bearer: the token is sender-constrained by its certificate);
// /workload/ by certificate alone, for the orders workload only.
func (s *mtlsSystem) gatewayConfig(listen, admin, certFile, keyFile, caFile string) config.Gateway {
	g := config.DefaultGateway()
	g.Enabled = true
	g.Listen, g.AdminListen = listen, admin
	g.PublicURL = s.gwURL
	g.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	g.MTLS.ClientCAFiles = []string{caFile}
	g.MTLS.CertificateRoutes = []string{"workload"}
	g.Routes = []config.Route{
		{Name: "demo", PathPrefix: "/demo/", Upstream: config.BuiltinDemo, Policy: []config.PolicyRule{
			{Name: "orders", Action: "allow", Principals: []string{"client:" + mtlsClient}, Methods: []string{"GET"}},
		}},
		{Name: "workload", PathPrefix: workloadPath, Upstream: config.BuiltinDemo, Policy: []config.PolicyRule{
			{Name: "orders-only", Action: "allow", Principals: []string{ordersSPIFFE}, Methods: []string{"GET"}},
		}},
	}
	return g
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// httpClient returns a client over TLS 1.3 that trusts the test CA and
// presents cert (nil: no certificate). Each has its own connections, so
// a request never rides on another certificate's connection.
func (s *mtlsSystem) httpClient(cert *mtlstest.Cert) *http.Client {
	tr := &http.Transport{TLSClientConfig: mtlstest.ClientTLSConfig(cert, s.ca.Pool()), ForceAttemptHTTP2: true}
	s.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// mtlsToken is the token endpoint's answer, with the JSON as received.
type mtlsToken struct {
	status int
	tokenResponse
	raw []byte
}

// tokenWith runs the client_credentials grant for the orders client
// over a connection presenting cert; the certificate is the only
// credential.
func (s *mtlsSystem) tokenWith(cert *mtlstest.Cert) mtlsToken {
	s.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {mtlsClient}, "scope": {"demo:read"}}
	resp, err := s.httpClient(cert).PostForm(s.asURL+authz.PathToken, form)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := mtlsToken{status: resp.StatusCode, raw: b}
	if err := json.Unmarshal(b, &out.tokenResponse); err != nil {
		s.t.Fatalf("token endpoint: %d %s", resp.StatusCode, b)
	}
	return out
}

// get sends GET path to the gateway over a connection presenting cert,
// with auth as the Authorization header when not empty.
func (s *mtlsSystem) get(cert *mtlstest.Cert, path, auth string) *response {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.gwURL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.httpClient(cert).Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			r.errorCode, _ = m["error"].(string)
		}
	}
	return r
}

func (s *mtlsSystem) lastSeen() upstreamSeen {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		s.t.Fatal("the upstream was never reached")
	}
	return s.seen[len(s.seen)-1]
}

// metrics returns the gateway admin listener's Prometheus text.
func (s *mtlsSystem) metrics() string {
	s.t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(s.adminURL + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("metrics: %d", resp.StatusCode)
	}
	return string(b)
}

// rejections returns ward_gateway_rejections_total by "error/reason".
func (s *mtlsSystem) rejections() map[string]float64 {
	s.t.Helper()
	out := map[string]float64{}
	for _, m := range rejectionRE.FindAllStringSubmatch(s.metrics(), -1) {
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			s.t.Fatal(err)
		}
		out[m[1]+"/"+m[2]] = v
	}
	return out
}

var handshakeFailureRE = regexp.MustCompile(`(?m)^ward_gateway_tls_handshake_failures_total\{reason="([^"]*)"\} (\S+)$`)

// handshakeFailures returns ward_gateway_tls_handshake_failures_total by
// reason.
func (s *mtlsSystem) handshakeFailures() map[string]float64 {
	s.t.Helper()
	out := map[string]float64{}
	for _, m := range handshakeFailureRE.FindAllStringSubmatch(s.metrics(), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			s.t.Fatal(err)
		}
		out[m[1]] = v
	}
	return out
}

// handshake dials addr (host:port) with cfg and completes the TLS
// handshake, returning the negotiated version. A version refusal comes in
// the server's first answer, so it fails the dial itself.
func handshake(addr string, cfg *tls.Config) (uint16, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return conn.ConnectionState().Version, nil
}

func hostPort(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Host
}

// TestMTLSCertificateBoundToken: RFC 8705 end to end. The orders
// workload authenticates to the token endpoint with its certificate
// alone, gets a token bound to that certificate, and calls the gateway
// with it over mTLS; the same token over another certificate's
// connection, or without one, is refused before the upstream.
func TestMTLSCertificateBoundToken(t *testing.T) {
	s := newMTLSSystem(t)
	want := mtls.Thumbprint(s.orders.Cert)
	if want == mtls.Thumbprint(s.intruder.Cert) {
		t.Fatal("two certificates with one thumbprint")
	}

	// 1. tls_client_auth: the certificate is the credential; the token is
	// a Bearer token bound to it (RFC 8705 §3).
	tr := s.tokenWith(s.orders)
	if tr.status != http.StatusOK || tr.AccessToken == "" {
		t.Fatalf("token endpoint with the registered certificate: %d %s", tr.status, tr.raw)
	}
	if tr.TokenType != "Bearer" {
		t.Errorf("token_type %q, want Bearer (RFC 8705 §3)", tr.TokenType)
	}
	_, claims := decodeJWT(t, tr.AccessToken)
	cnf, _ := claims["cnf"].(map[string]any)
	if got, _ := cnf["x5t#S256"].(string); got != want {
		t.Fatalf("cnf.x5t#S256 = %q, want the certificate's thumbprint %q (cnf %v)", got, want, claims["cnf"])
	}
	if _, ok := cnf["jkt"]; ok {
		t.Errorf("the token is also DPoP-bound: cnf %v", cnf)
	}
	if claims["client_id"] != mtlsClient || claims["aud"] != s.gwURL && !containsAny(claims["aud"], s.gwURL) {
		t.Errorf("client_id %v, aud %v; want %q for %q", claims["client_id"], claims["aud"], mtlsClient, s.gwURL)
	}

	// The token endpoint refuses the same client without its certificate,
	// and with a certificate of the same CA carrying another SPIFFE ID.
	for name, cert := range map[string]*mtlstest.Cert{"no certificate": nil, "another workload's certificate": s.intruder} {
		if tr := s.tokenWith(cert); tr.status != http.StatusUnauthorized || tr.Error != "invalid_client" || tr.AccessToken != "" {
			t.Errorf("token endpoint with %s: %d %s, want 401 invalid_client", name, tr.status, tr.raw)
		}
	}
	if !strings.Contains(s.log.String(), "authz: tls_client_auth refused") {
		t.Errorf("no log line says why tls_client_auth was refused:\n%s", s.log.String())
	}

	// 2. The bound token with its certificate: through to the upstream,
	// which sees the client, the SPIFFE ID and the thumbprint.
	r := s.get(s.orders, "/demo/whoami", "Bearer "+tr.AccessToken)
	if r.status != http.StatusOK {
		t.Fatalf("gateway with the bound certificate: %d %s", r.status, r.body)
	}
	seen := s.lastSeen()
	if seen.path != "/demo/whoami" {
		t.Errorf("upstream path %q", seen.path)
	}
	for h, v := range map[string]string{
		"X-Ward-Client":          mtlsClient,
		"X-Ward-SPIFFE-ID":       ordersSPIFFE,
		"X-Ward-Cert-Thumbprint": want,
	} {
		if got := seen.header.Get(h); got != v {
			t.Errorf("upstream %s = %q, want %q", h, got, v)
		}
	}
	var whoami struct {
		Identity map[string]string `json:"identity_headers"`
	}
	if err := json.Unmarshal(r.body, &whoami); err != nil || whoami.Identity["X-Ward-Spiffe-Id"] != ordersSPIFFE {
		t.Errorf("the demo upstream's answer does not show the SPIFFE ID: %s", r.body)
	}

	// 3. The same token over another certificate's connection, then over
	// no certificate: invalid_token with a stable reason, upstream not
	// called.
	for _, c := range []struct {
		name   string
		cert   *mtlstest.Cert
		reason string
	}{
		{"another certificate of the same CA", s.intruder, "cert_mismatch"},
		{"no client certificate", nil, "cert_missing"},
	} {
		before := s.rejections()["invalid_token/"+c.reason]
		hits := s.hits.Load()
		r := s.get(c.cert, "/demo/whoami", "Bearer "+tr.AccessToken)
		if r.status != http.StatusUnauthorized || r.errorCode != "invalid_token" {
			t.Errorf("%s: %d %q %s, want 401 invalid_token", c.name, r.status, r.errorCode, r.body)
		}
		if !strings.Contains(strings.Join(r.header.Values("WWW-Authenticate"), ", "), `error="invalid_token"`) {
			t.Errorf("%s: WWW-Authenticate %q without error=\"invalid_token\"", c.name, r.header.Values("WWW-Authenticate"))
		}
		if got := s.rejections()["invalid_token/"+c.reason]; got != before+1 {
			t.Errorf("%s: ward_gateway_rejections_total{error=invalid_token,reason=%s} went from %v to %v, want +1", c.name, c.reason, before, got)
		}
		if n := s.hits.Load(); n != hits {
			t.Errorf("%s: the upstream was called", c.name)
		}
	}

	// The right certificate still works afterwards (nothing was revoked
	// or poisoned by the refusals).
	if r := s.get(s.orders, "/demo/whoami", "Bearer "+tr.AccessToken); r.status != http.StatusOK {
		t.Errorf("gateway with the bound certificate after the refusals: %d %s", r.status, r.body)
	}
}

func containsAny(v any, want string) bool {
	l, _ := v.([]any)
	for _, x := range l {
		if x == want {
			return true
		}
	}
	return false
}

// TestMTLSRefusesTLS12: both listeners are TLS 1.3 only; a TLS 1.2
// client is refused at the handshake, even with a valid certificate,
// while the same dial with TLS 1.3 succeeds.
func TestMTLSRefusesTLS12(t *testing.T) {
	s := newMTLSSystem(t)
	tc := s.orders.TLSCertificate()
	before := s.handshakeFailures()["tls_version"]
	for name, u := range map[string]string{"authorization server": s.asURL, "gateway": s.gwURL} {
		addr := hostPort(t, u)
		v13, err := handshake(addr, mtlstest.ClientTLSConfig(s.orders, s.ca.Pool()))
		if err != nil || v13 != tls.VersionTLS13 {
			t.Fatalf("%s: TLS 1.3 handshake: version %x, %v", name, v13, err)
		}
		old := &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, RootCAs: s.ca.Pool(), Certificates: []tls.Certificate{tc}}
		v, err := handshake(addr, old)
		if err == nil {
			t.Errorf("%s: a TLS 1.2 client completed the handshake (version %x)", name, v)
		} else if !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("%s: TLS 1.2 refused, but not for its version: %v", name, err)
		}
	}
	// The gateway counts and logs the refusal by reason (the server
	// reports it after the client has seen the alert: wait for it).
	logged := regexp.MustCompile(`TLS handshake refused.*reason=tls_version`)
	deadline := time.Now().Add(5 * time.Second)
	for (s.handshakeFailures()["tls_version"] < before+1 || !logged.MatchString(s.log.String())) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := s.handshakeFailures()["tls_version"]; got != before+1 {
		t.Errorf("ward_gateway_tls_handshake_failures_total{reason=tls_version} went from %v to %v, want +1", before, got)
	}
	if !logged.MatchString(s.log.String()) {
		t.Errorf("no 'TLS handshake refused' log line with reason=tls_version:\n%s", s.log.String())
	}
}

// TestMTLSCertificateRoute: a route authenticated by the client
// certificate alone, whose policy names one SPIFFE ID.
func TestMTLSCertificateRoute(t *testing.T) {
	s := newMTLSSystem(t)
	path := workloadPath + "jobs"

	// The allowed workload: 200 without any token, its SPIFFE ID upstream.
	hits := s.hits.Load()
	r := s.get(s.orders, path, "")
	if r.status != http.StatusOK || string(r.body) != "workload ok\n" {
		t.Fatalf("allowed SPIFFE ID: %d %s, want 200 from the upstream", r.status, r.body)
	}
	if s.hits.Load() != hits+1 {
		t.Errorf("the upstream was not called once")
	}
	seen := s.lastSeen()
	if got := seen.header.Get("X-Ward-SPIFFE-ID"); got != ordersSPIFFE {
		t.Errorf("upstream X-Ward-SPIFFE-ID = %q, want %q", got, ordersSPIFFE)
	}
	if got, want := seen.header.Get("X-Ward-Cert-Thumbprint"), mtls.Thumbprint(s.orders.Cert); got != want {
		t.Errorf("upstream X-Ward-Cert-Thumbprint = %q, want %q", got, want)
	}

	// Another workload of the same CA: 403, upstream not called.
	before := s.rejections()
	hits = s.hits.Load()
	r = s.get(s.intruder, path, "")
	if r.status != http.StatusForbidden {
		t.Errorf("another SPIFFE ID: %d %s, want 403", r.status, r.body)
	}
	after := s.rejections()
	if n := sumReason(after, "policy_no_matching_rule") - sumReason(before, "policy_no_matching_rule"); n != 1 {
		t.Errorf("another SPIFFE ID: rejections with reason policy_no_matching_rule +%v, want +1 (%v)", n, after)
	}

	// No certificate: 401 cert_missing.
	r = s.get(nil, path, "")
	if r.status != http.StatusUnauthorized {
		t.Errorf("no certificate: %d %s, want 401", r.status, r.body)
	}
	if n := sumReason(s.rejections(), "cert_missing") - sumReason(after, "cert_missing"); n != 1 {
		t.Errorf("no certificate: rejections with reason cert_missing +%v, want +1", n)
	}
	if s.hits.Load() != hits {
		t.Errorf("a refused request reached the upstream")
	}
	// A SPIFFE header sent by the client is not an identity: the policy
	// reads the certificate (another workload claiming the allowed ID is
	// still refused), and the upstream gets the certificate's ID, not the
	// client's copy.
	forged := func(cert *mtlstest.Cert, claim string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.gwURL+path, nil)
		req.Header.Set("X-Ward-SPIFFE-ID", claim)
		resp, err := s.httpClient(cert).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := forged(s.intruder, ordersSPIFFE); st != http.StatusForbidden || s.hits.Load() != hits {
		t.Errorf("another workload with a forged X-Ward-SPIFFE-ID: %d, want 403 and no upstream call", st)
	}
	if st := forged(s.orders, intruderSPIFFE); st != http.StatusOK {
		t.Errorf("allowed workload with a forged X-Ward-SPIFFE-ID: %d, want 200", st)
	} else if got := s.lastSeen().header.Values("X-Ward-SPIFFE-ID"); len(got) != 1 || got[0] != ordersSPIFFE {
		t.Errorf("upstream X-Ward-SPIFFE-ID = %q, want only the certificate's %q", got, ordersSPIFFE)
	}
}

// sumReason adds the rejections with reason whatever their error code.
func sumReason(m map[string]float64, reason string) float64 {
	var n float64
	for k, v := range m {
		if strings.HasSuffix(k, "/"+reason) {
			n += v
		}
	}
	return n
}
