package multiprocess

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardauth/ward/mtls/mtlstest"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/clustertest"
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

// waitHTTP polls u until it answers 200, or fails the test with p's
// output.
func waitHTTP(t *testing.T, p *wardtest.Process, u string) {
	t.Helper()
	p.WaitReady(t, &http.Client{Timeout: time.Second}, u)
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
	as     map[string]*wardtest.Process
	client *http.Client
	flow   *clustertest.Flow // the clients: names, secrets, the last DPoP-Nonce
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes, PostgreSQL and Redis: skipped under -short")
	}
	dsn := pgSchema(t)
	rd := startRedis(t)
	dir := t.TempDir()
	c := &cluster{t: t, bin: mustBuild(t, dir), dir: dir, redis: rd, admin: map[string]string{}, as: map[string]*wardtest.Process{}}
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
	c.flow = &clustertest.Flow{T: t, Issuer: c.asLB.url, API: c.gwLB.url, SvcClient: svcClient, SvcSecret: svcSecret,
		WebClient: webClient, WebRedirect: webRedirect, User: userName, Password: userPass}

	// A and B start together on the empty schema: the advisory lock orders
	// their migrations, and the first-key lease makes one of them create
	// the first signing key, which both then publish and sign with.
	for _, n := range []string{"A", "B"} {
		path := c.write("as-"+n+".yaml", c.asConfig(asAddr[n]))
		c.as[n] = wardtest.StartNamed(t, "as-"+n, c.bin, c.env, "serve", "--config", path)
	}
	for _, n := range []string{"A", "B"} {
		waitHTTP(t, c.as[n], "http://"+asAddr[n]+"/.well-known/oauth-authorization-server")
	}
	for _, n := range []string{"A", "B"} {
		adm := wardtest.FreeAddr(t)
		path := c.write("gw-"+n+".yaml", c.gwConfig(gwAddr[n], adm, upstream))
		gw := wardtest.StartNamed(t, "gw-"+n, c.bin, c.env, "serve", "--config", path)
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
type response = clustertest.Response

// do sends req to the process named backend behind req's load balancer.
func (c *cluster) do(req *http.Request, backend string, jar http.CookieJar) *response {
	return c.to(backend)(req, jar)
}

// to sends requests to the process named backend ("A" or "B"; "" for the
// balancer's choice) behind the request's load balancer.
func (c *cluster) to(backend string) clustertest.Sender {
	return func(req *http.Request, jar http.CookieJar) *response {
		c.t.Helper()
		if backend != "" {
			req.Header.Set(backendHeader, backend)
		}
		return clustertest.Via(c.t, c.client)(req, jar)
	}
}

// newSigner returns a DPoP signer with a fresh P-256 key.
func (c *cluster) newSigner() *dpop.Signer { return clustertest.NewSigner(c.t) }

// token runs a token request at server, answering one use_dpop_nonce
// challenge (RFC 9449 §8).
func (c *cluster) token(server string, form url.Values, sg *dpop.Signer) *response {
	return c.flow.Token(c.to(server), form, sg)
}

// serviceToken gets a DPoP-bound access token for svc at server.
func (c *cluster) serviceToken(server string, sg *dpop.Signer) string {
	return c.flow.ServiceToken(c.to(server), sg)
}

var (
	wantToken     = clustertest.WantToken
	wantError     = clustertest.WantError
	isConsentPage = clustertest.IsConsentPage
)

// apiProof makes a proof for GET path at the gateways, bound to tok.
func (c *cluster) apiProof(sg *dpop.Signer, path, tok string) string {
	return c.flow.APIProof(sg, path, tok)
}

// call sends GET path to gateway gw with tok and proof.
func (c *cluster) call(gw, path, tok, proof string) *response {
	return c.flow.Call(c.to(gw), path, tok, proof)
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
	return c.flow.Introspect(c.to(server), tok)
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
	if err := json.Unmarshal(r.Body, &set); err != nil {
		c.t.Fatalf("JWKS of %s: %v: %v", server, r, err)
	}
	out := map[string]bool{}
	for _, k := range set.Keys {
		out[k.Kid] = true
	}
	return out
}

func mustBuild(t *testing.T, dir string) string {
	t.Helper()
	bin, err := wardtest.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
