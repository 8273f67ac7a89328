package multiprocess

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/oauth"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/wardtest"
)

const (
	webRedirect = "http://127.0.0.1/cb"
	svcClient   = "svc" // confidential, client_credentials
	webClient   = "web" // public, authorization_code + refresh_token
	userName    = "alice"
	userPass    = "correct horse battery staple"
	svcSecret   = "svc-secret-for-the-multiprocess-test"
	feedClient  = "feed" // confidential, scope ward:revocations: the gateways
	feedSecret  = "feed-secret-for-the-multiprocess-test"

	// meteredLimit is gateway route "metered"'s per-client rate: 5 a
	// minute, counted in Redis across both gateways.
	meteredLimit = 5

	// backendHeader names the process a load balancer sends a request to
	// (A or B); it is removed before the request is forwarded.
	backendHeader = "X-Test-Backend"
)

// pgSchema is a fresh schema on WARD_TEST_POSTGRES, dropped at cleanup,
// with small connection pools (four processes share the server).
func pgSchema(t *testing.T) string {
	t.Helper()
	u := wardtest.PostgresSchema(t, "ward_mp_")
	q := u.Query()
	q.Set("pool_max_conns", "4")
	u.RawQuery = q.Encode()
	return u.String()
}

// redisServer is a private redis-server process that the test can stop
// and start again on the same port.
type redisServer struct {
	t    *testing.T
	bin  string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		wardtest.Unavailable(t, "redis-server is not installed (apt-get install redis-server)")
	}
	r := &redisServer{t: t, bin: bin, addr: wardtest.FreeAddr(t)}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	r.cmd = exec.Command(r.bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	out := &wardtest.SyncBuffer{}
	r.cmd.Stdout, r.cmd.Stderr = out, out
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(r.cmd, r.done)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if redisPing(r.addr) {
			return
		}
	}
	r.t.Fatalf("redis-server on %s did not answer:\n%s", r.addr, out.String())
}

// stop kills the server (no shutdown grace: Redis going away).
func (r *redisServer) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// redisPing speaks RESP: PING → +PONG.
func redisPing(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	b := make([]byte, 7)
	n, _ := io.ReadAtLeast(c, b, 7)
	return string(b[:n]) == "+PONG\r\n"
}

// balancer is a TLS-terminating reverse proxy in front of processes A
// and B. A request goes to the process named in backendHeader, else
// round robin; X-Forwarded-For/-Host/-Proto are set as a load balancer
// sets them.
type balancer struct {
	url      string
	backends map[string]string // name → address
	names    []string
	next     atomic.Uint64
}

func newBalancer(t *testing.T, p *mtlstest.LoopbackPKI, backends map[string]string) *balancer {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.Cert.TLSCertificate()}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{url: "https://" + ln.Addr().String(), backends: backends, names: []string{"A", "B"}}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		name := pr.In.Header.Get(backendHeader)
		if name == "" {
			name = b.names[b.next.Add(1)%uint64(len(b.names))]
		}
		pr.Out.Header.Del(backendHeader)
		pr.SetURL(&url.URL{Scheme: "http", Host: b.backends[name]})
		pr.Out.Host = pr.In.Host
		pr.SetXForwarded()
	}}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return b
}

// process is one `ward serve` (or other command) process.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *wardtest.SyncBuffer
	done chan struct{}
}

// start runs bin with args and env (added to this process's environment,
// without the WARD_ variables a developer may have set).
func start(t *testing.T, name, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{name: name, out: &wardtest.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(wardtest.CleanEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- %s output:\n%s", name, p.out.String())
		}
	})
	return p
}

// waitHTTP polls u until it answers 200, or fails the test with p's
// output.
func waitHTTP(t *testing.T, p *process, u string) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-p.done:
			t.Fatalf("%s exited:\n%s", p.name, p.out.String())
		default:
		}
		if resp, err := c.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s: %s did not answer 200:\n%s", p.name, u, p.out.String())
}

// cluster is two authorization-server processes and two gateway processes
// behind two load balancers, sharing PostgreSQL and a private Redis.
type cluster struct {
	t      *testing.T
	bin    string
	dir    string
	env    []string // shared secrets and DSN
	redis  *redisServer
	asLB   *balancer
	gwLB   *balancer
	admin  map[string]string // gateway name → admin URL
	as     map[string]*process
	client *http.Client
	nonce  string // the last DPoP-Nonce from an authorization server
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes, PostgreSQL and Redis: skipped under -short")
	}
	dsn := pgSchema(t)
	rd := startRedis(t)
	dir := t.TempDir()
	c := &cluster{t: t, bin: mustBuild(t, dir), dir: dir, redis: rd, admin: map[string]string{}, as: map[string]*process{}}
	p := mtlstest.Loopback(t, dir)
	c.env = []string{
		"WARD_STORE_DSN=" + dsn,
		"WARD_REDIS_URL=redis://" + rd.addr + "/0",
		"WARD_FLOW_KEY=" + wardtest.RandKey(),
		"WARD_KEY_ENCRYPTION_KEY=" + wardtest.RandKey(),
		"WARD_DPOP_NONCE_SECRET=" + wardtest.RandKey(),
		"WARD_TEST_SVC_SECRET=" + svcSecret,
		"WARD_TEST_FEED_SECRET=" + feedSecret,
		"WARD_TEST_ALICE_PASSWORD=" + userPass,
		"SSL_CERT_FILE=" + p.CAFile,
		"GOMAXPROCS=1",
	}
	c.client = &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	upstream := startUpstream(t)

	asAddr := map[string]string{"A": wardtest.FreeAddr(t), "B": wardtest.FreeAddr(t)}
	c.asLB = newBalancer(t, p, asAddr)
	gwAddr := map[string]string{"A": wardtest.FreeAddr(t), "B": wardtest.FreeAddr(t)}
	c.gwLB = newBalancer(t, p, gwAddr)

	// A and B start together on the empty schema: the advisory lock orders
	// their migrations, and the first-key lease makes one of them create
	// the first signing key, which both then publish and sign with.
	for _, n := range []string{"A", "B"} {
		path := c.write("as-"+n+".yaml", c.asConfig(asAddr[n]))
		c.as[n] = start(t, "as-"+n, c.bin, c.env, "serve", "--config", path)
	}
	for _, n := range []string{"A", "B"} {
		waitHTTP(t, c.as[n], "http://"+asAddr[n]+"/.well-known/oauth-authorization-server")
	}
	for _, n := range []string{"A", "B"} {
		adm := wardtest.FreeAddr(t)
		path := c.write("gw-"+n+".yaml", c.gwConfig(gwAddr[n], adm, upstream))
		gw := start(t, "gw-"+n, c.bin, c.env, "serve", "--config", path)
		c.admin[n] = "http://" + adm
		waitHTTP(t, gw, c.admin[n]+"/readyz")
	}
	return c
}

func (c *cluster) write(name, text string) string {
	c.t.Helper()
	path := filepath.Join(c.dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// asConfig is an authorization server's file: the issuer is the load
// balancer's URL, keys are reloaded every 200ms (keys.refresh_interval)
// so that a rotation shows quickly.
func (c *cluster) asConfig(listen string) string {
	return fmt.Sprintf(`issuer: %s
listen: %s
behind_tls_proxy: {trusted_proxies: [127.0.0.1/32]}
store: {driver: postgres}
keys: {refresh_interval: 200ms}
dpop: {nonce: {enabled: true}}
redis: {key_prefix: "ward:mp:"}
clients:
  - id: %s
    auth_method: client_secret_basic
    secret_env: WARD_TEST_SVC_SECRET
    grant_types: [client_credentials]
    scopes: [demo:read]
    audiences: [%s]
  - id: %s
    auth_method: none
    redirect_uris: [%s]
    grant_types: [authorization_code, refresh_token]
    scopes: [demo:read]
    audiences: [%s]
  - id: %s
    auth_method: client_secret_basic
    secret_env: WARD_TEST_FEED_SECRET
    grant_types: [client_credentials]
    scopes: [ward:revocations]
users:
  - {subject: u-alice, username: %s, password_env: WARD_TEST_ALICE_PASSWORD}
`, c.asLB.url, listen, svcClient, c.gwLB.url, webClient, webRedirect, c.gwLB.url, feedClient, userName)
}

// gwConfig is a gateway-only process's file: route "api" unlimited,
// route "metered" limited to meteredLimit requests a minute per client;
// the revocation feed read from the authorization servers as the client
// feed, woken through Redis.
func (c *cluster) gwConfig(listen, admin, upstream string) string {
	secret := c.write("feed.secret", feedSecret+"\n")
	return fmt.Sprintf(`issuer: %s
authorization_server: {enabled: false}
behind_tls_proxy: {trusted_proxies: [127.0.0.1/32]}
redis: {key_prefix: "ward:mp:"}
gateway:
  enabled: true
  listen: %s
  admin_listen: %s
  behind_tls_proxy: {trusted_proxies: [127.0.0.1/32]}
  public_url: %s
  revocations: {client_id: %s, client_secret_file: %s}
  routes:
    - name: api
      path_prefix: /api/
      upstream: %s
      policy: [{name: read, action: allow, principals: ["*"], methods: [GET]}]
    - name: metered
      path_prefix: /metered/
      upstream: %s
      rate_limits: {client: {rate: %d, period: 1m}}
      policy: [{name: read, action: allow, principals: ["*"], methods: [GET]}]
`, c.asLB.url, listen, admin, c.gwLB.url, feedClient, secret, upstream, upstream, meteredLimit)
}

// startUpstream serves the API behind the gateways: 200 with the
// verified client.
func startUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"client": r.Header.Get("X-Ward-Client"), "path": r.URL.Path})
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// --- requests ---

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r *response) str(k string) string { s, _ := r.json[k].(string); return s }

func (r *response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// do sends req to the process named backend behind req's load balancer.
func (c *cluster) do(req *http.Request, backend string, jar http.CookieJar) *response {
	c.t.Helper()
	if backend != "" {
		req.Header.Set(backendHeader, backend)
	}
	hc := *c.client
	hc.Jar = jar
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &r.json)
	}
	return r
}

func (c *cluster) newSigner() *dpop.Signer {
	c.t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	sg, err := dpop.NewSigner(k)
	if err != nil {
		c.t.Fatal(err)
	}
	return sg
}

// postToken posts form to server's /token with proof (when given).
func (c *cluster) postToken(server string, form url.Values, proof string) *response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.asLB.url+authz.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if form.Get("grant_type") == string(oauth.GrantClientCredentials) {
		req.SetBasicAuth(svcClient, svcSecret)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	r := c.do(req, server, nil)
	if n := r.header.Get("DPoP-Nonce"); n != "" {
		c.nonce = n
	}
	return r
}

func (c *cluster) tokenProof(sg *dpop.Signer) string {
	c.t.Helper()
	var opts []dpop.ProofOption
	if c.nonce != "" {
		opts = append(opts, dpop.WithNonce(c.nonce))
	}
	p, err := sg.Proof(http.MethodPost, c.asLB.url+authz.PathToken, opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

// token runs a token request at server, answering one use_dpop_nonce
// challenge (RFC 9449 §8).
func (c *cluster) token(server string, form url.Values, sg *dpop.Signer) *response {
	c.t.Helper()
	r := c.postToken(server, form, c.tokenProof(sg))
	if r.status == http.StatusBadRequest && r.str("error") == "use_dpop_nonce" {
		r = c.postToken(server, form, c.tokenProof(sg))
	}
	return r
}

func (c *cluster) serviceToken(server string, sg *dpop.Signer) string {
	c.t.Helper()
	r := c.token(server, url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}, sg)
	wantToken(c.t, r)
	return r.str("access_token")
}

func wantToken(t *testing.T, r *response) {
	t.Helper()
	if r.status != http.StatusOK || r.str("access_token") == "" {
		t.Fatalf("got %v, want a token", r)
	}
}

func wantError(t *testing.T, r *response, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %v, want %d %s", r, status, code)
	}
}

func (c *cluster) apiProof(sg *dpop.Signer, path, tok string) string {
	c.t.Helper()
	p, err := sg.Proof(http.MethodGet, c.gwLB.url+path, dpop.WithAccessToken(tok))
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

// call sends GET path to gateway gw with tok and proof.
func (c *cluster) call(gw, path, tok, proof string) *response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.gwLB.url+path, nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", proof)
	return c.do(req, gw, nil)
}

// rejections returns gateway gw's ward_gateway_rejections_total by reason.
func (c *cluster) rejections(gw string) map[string]float64 {
	c.t.Helper()
	out := map[string]float64{}
	for _, m := range wardtest.Metric(c.t, c.admin[gw]+"/metrics", "ward_gateway_rejections_total") {
		out[m.Labels["reason"]] += m.Value
	}
	return out
}

// introspect asks server about tok (as the confidential client svc).
func (c *cluster) introspect(server, tok string) *response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.asLB.url+authz.PathIntrospect, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(svcClient, svcSecret)
	return c.do(req, server, nil)
}

// jwksKids returns the kids server publishes.
func (c *cluster) jwksKids(server string) map[string]bool {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.asLB.url+authz.PathJWKS, nil)
	r := c.do(req, server, nil)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &set); err != nil {
		c.t.Fatalf("JWKS of %s: %v: %v", server, r, err)
	}
	out := map[string]bool{}
	for _, k := range set.Keys {
		out[k.Kid] = true
	}
	return out
}

// --- the browser ---

type browser struct {
	c   *cluster
	jar http.CookieJar
}

func (c *cluster) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{c: c, jar: jar}
}

// get fetches u at server, following redirects within the issuer.
func (b *browser) get(server, u string) *response {
	b.c.t.Helper()
	for range 10 {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		r := b.c.do(req, server, b.jar)
		loc := r.header.Get("Location")
		if r.status/100 != 3 || !strings.HasPrefix(loc, b.c.asLB.url+"/") {
			return r
		}
		u = loc
	}
	b.c.t.Fatal("too many redirects")
	return nil
}

func (b *browser) postForm(server, u string, form url.Values) *response {
	b.c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r := b.c.do(req, server, b.jar)
	if loc := r.header.Get("Location"); r.status/100 == 3 && strings.HasPrefix(loc, b.c.asLB.url+"/") {
		return b.get(server, loc)
	}
	return r
}

func isLoginPage(r *response) bool {
	return r.status == http.StatusOK && bytes.Contains(r.body, []byte(`name="password"`))
}

func isConsentPage(r *response) bool {
	return r.status == http.StatusOK && bytes.Contains(r.body, []byte(`name="decision"`))
}

func codeFrom(t *testing.T, r *response) string {
	t.Helper()
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, webRedirect) {
		t.Fatalf("expected a redirect to the client, got %v", r)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	code := u.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", loc)
	}
	return code
}

func mustBuild(t *testing.T, dir string) string {
	t.Helper()
	bin, err := wardtest.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
