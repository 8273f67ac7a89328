package multiinstance

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/oauth"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/demo"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/clustertest"
	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/revocation"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/redisstore"
	"github.com/wardauth/ward/store/sqlstore"
)

// The names clients use: one for the authorization servers and one for the
// gateways, as a load balancer would publish them. Every request goes to
// one instance chosen by the test (its client dials that instance's
// listener whatever the URL says), so the issuer, the proofs' htu and the
// cookies are the same whichever instance answers.
const (
	issuer      = "http://as.ward.test"
	apiURL      = "http://api.ward.test"
	webRedirect = "http://127.0.0.1/cb"
	whoami      = "/demo/whoami"

	svcClient  = "svc"  // confidential, client_credentials
	webClient  = "web"  // public, authorization_code + refresh_token
	feedClient = "feed" // confidential, scope ward:revocations: the gateways
	userName   = "alice"
	userPass   = "correct horse battery staple"
)

// pgSchema is a fresh schema on WARD_TEST_POSTGRES, dropped at cleanup,
// with pools of 8 connections.
func pgSchema(t *testing.T) string {
	t.Helper()
	u := wardtest.PostgresSchema(t, "ward_mi_")
	q := u.Query()
	q.Set("pool_max_conns", "8")
	u.RawQuery = q.Encode()
	return u.String()
}

// redisPrefix checks WARD_TEST_REDIS and returns its address and a key
// prefix of the test's own, whose keys are deleted at cleanup.
func redisPrefix(t *testing.T) (addr, prefix string) {
	t.Helper()
	addr, _, prefix = wardtest.Redis(t, "mi")
	return addr, prefix
}

// routeTo returns a client that sends every request to addr, whatever
// the URL's host: the load balancer's choice, made by the test. It does
// not follow redirects.
func routeTo(addr string) *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "tcp", addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// asInstance is one authorization server: its own store (a pool of its
// own on the shared schema), key manager, Redis client and listener, as a
// separate process would have.
type asInstance struct {
	name string
	srv  *authz.Server
	st   store.Store
	km   *keys.Manager
	rs   *redisstore.Store
	hc   *http.Client
	addr string // the listener's
}

// gwInstance is one gateway with its own Redis client; it discovers the
// issuer's keys through one authorization server.
type gwInstance struct {
	name     string
	gw       *gateway.Gateway
	rs       *redisstore.Store
	hc       *http.Client
	adminURL string
	feed     *revocation.Follower
}

// cluster is two authorization servers and two gateways on loopback
// listeners sharing one PostgreSQL schema and one Redis (by key prefix),
// one KEK, one flow key and one DPoP nonce secret.
type cluster struct {
	t           *testing.T
	dsn         string
	redisAddr   string
	prefix      string
	kek         keys.KEK
	flowKey     []byte
	nonceSecret []byte
	log         *wardtest.SyncBuffer
	as          []*asInstance
	gw          []*gwInstance
	svcSecret   string
	feedSecret  string
	flow        *clustertest.Flow // the clients: names, secrets, the last DPoP-Nonce
	// deploy, when set, replaces redisAddr: every instance's client is
	// redisstore.NewClient for this Sentinel or Cluster (failover_test.go).
	deploy *redisstore.Deployment
}

// clusterOpt changes how instance i reaches Redis (for the outage test).
type clusterOpt func(c *cluster, i int) string

func newCluster(t *testing.T, opts ...clusterOpt) *cluster {
	t.Helper()
	redisAddr, prefix := redisPrefix(t)
	c := &cluster{t: t, dsn: pgSchema(t), redisAddr: redisAddr, prefix: prefix, log: &wardtest.SyncBuffer{}}
	c.flow = &clustertest.Flow{T: t, Issuer: issuer, API: apiURL, SvcClient: svcClient,
		WebClient: webClient, WebRedirect: webRedirect, User: userName, Password: userPass}
	if _, err := rand.Read(c.kek[:]); err != nil {
		t.Fatal(err)
	}
	c.flowKey = random(32)
	c.nonceSecret = random(32)
	for i, name := range []string{"A", "B"} {
		addr := c.redisAddr
		for _, o := range opts {
			addr = o(c, i)
		}
		c.as = append(c.as, c.startAS(name, addr, c.flowKey))
	}
	c.seed()
	for i, name := range []string{"A", "B"} {
		addr := c.redisAddr
		for _, o := range opts {
			addr = o(c, i)
		}
		c.gw = append(c.gw, c.startGateway(name, addr, c.as[i]))
	}
	return c
}

func random(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func (c *cluster) logger(name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(c.log, &slog.HandlerOptions{Level: slog.LevelDebug})).With("instance", name)
}

func (c *cluster) redisStore(name, addr string) *redisstore.Store {
	c.t.Helper()
	if c.deploy != nil {
		cl := redisstore.NewClient(redisstore.Config{}, *c.deploy)
		c.t.Cleanup(func() { cl.Close() })
		return redisstore.NewFromClient(cl, redisstore.Config{Prefix: c.prefix, Logger: c.logger(name)})
	}
	rs, err := redisstore.New(redisstore.Config{Addr: addr, Prefix: c.prefix, Logger: c.logger(name)})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { rs.Close() })
	return rs
}

// listen opens a loopback listener; its server closes it.
func (c *cluster) listen() net.Listener {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	return ln
}

// startAS starts an authorization server as `ward serve` wires it, with
// store.driver postgres and the redis section set.
func (c *cluster) startAS(name, redisAddr string, flowKey []byte) *asInstance {
	t := c.t
	t.Helper()
	ctx := context.Background()
	cfg := config.Dev(t.TempDir())
	cfg.Issuer = issuer
	cfg.Store = config.Store{Driver: "postgres", DSN: c.dsn}
	cfg.DPoP.Nonce.Enabled = true
	st, err := sqlstore.OpenPostgres(ctx, c.dsn)
	if err != nil {
		t.Fatalf("AS %s: %v", name, err)
	}
	t.Cleanup(func() { st.Close() })
	km, err := keys.New(st, []keys.KEK{c.kek}, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.EnsureKey(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	in := &asInstance{name: name, st: st, km: km, rs: c.redisStore("as-"+name, redisAddr)}
	// As ward serve wires it: every revocation wakes the gateways through
	// Redis (revocation_test.go).
	revoked := func() { go func() { _ = in.rs.PublishRevocation(context.Background()) }() }
	in.srv, err = authz.New(cfg, authz.Options{
		Store: revocation.Watch(st, revoked), Keys: km, Logger: c.logger("as-" + name),
		FlowKey: flowKey, NonceSecret: c.nonceSecret, Replay: in.rs,
		KeysInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln := c.listen()
	in.addr = ln.Addr().String()
	in.hc = routeTo(in.addr)
	hs := &http.Server{Handler: in.srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = hs.Serve(ln) }()
	go func() { defer wg.Done(); _ = in.srv.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		hs.Close()
		wg.Wait()
	})
	return in
}

// startGateway starts a gateway whose JWKS discovery and revocation feed
// go to via.
func (c *cluster) startGateway(name, redisAddr string, via *asInstance) *gwInstance {
	c.t.Helper()
	return c.startGatewayFeed(name, redisAddr, via, feedOptions{hc: via.hc})
}

// startGatewayFeed starts a gateway whose JWKS discovery goes to via and
// whose revocation feed is set by fo (revocation_test.go).
func (c *cluster) startGatewayFeed(name, redisAddr string, via *asInstance, fo feedOptions) *gwInstance {
	t := c.t
	t.Helper()
	ln, adm := c.listen(), c.listen()
	cfg := config.Dev(t.TempDir())
	cfg.Issuer = issuer
	g := config.DefaultGateway()
	g.Enabled = true
	g.Listen, g.AdminListen = ln.Addr().String(), adm.Addr().String()
	g.PublicURL = apiURL
	g.Routes = []config.Route{{Name: "demo", PathPrefix: "/demo/", Upstream: config.BuiltinDemo,
		Policy: []config.PolicyRule{{Name: "read", Action: "allow", Principals: []string{"*"}, Methods: []string{"GET"}}}}}
	cfg.Gateway = g
	if err := cfg.ValidateGateway(); err != nil {
		t.Fatalf("gateway configuration: %v", err)
	}
	in := &gwInstance{name: name, rs: c.redisStore("gw-"+name, redisAddr), hc: routeTo(ln.Addr().String()),
		adminURL: "http://" + adm.Addr().String()}
	var err error
	in.feed = c.feed(name, &fo)
	in.gw, err = gateway.New(&cfg.Gateway, gateway.Options{
		Issuer: cfg.GatewayIssuer(), Logger: c.logger("gw-" + name),
		HTTPClient: via.hc, ReplayStore: in.rs, Revocations: in.feed.Set,
		Upstreams: demo.Builtins(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	_ = in.feed.Sync(ctx) // as ward serve does: not stale from the start when the feed is up
	done := make(chan error, 3)
	go func() { done <- in.gw.Serve(ctx, ln, adm) }()
	go func() { done <- in.feed.Run(ctx) }()
	go func() {
		if !fo.pollOnly {
			in.rs.RevocationWakeups(ctx, fo.wakeups.Wake)
		}
		done <- nil
	}()
	t.Cleanup(func() {
		stop()
		for range 3 {
			if err := <-done; err != nil {
				t.Errorf("gateway %s: %v", name, err)
			}
		}
	})
	return in
}

// seed creates the clients and the user through instance A's store.
func (c *cluster) seed() {
	c.t.Helper()
	ctx := context.Background()
	st := c.as[0].st
	svc := store.Client{ID: svcClient, Name: "service", AuthMethod: oauth.AuthSecretBasic,
		GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, Scopes: []string{"demo:read"},
		Audiences: []string{apiURL}, SenderConstraint: store.ConstraintDPoP}
	var err error
	if c.svcSecret, err = authz.CreateClient(ctx, st, &svc, time.Now()); err != nil {
		c.t.Fatal(err)
	}
	c.flow.SvcSecret = c.svcSecret
	web := store.Client{ID: webClient, Name: "Web", AuthMethod: oauth.AuthNone, RedirectURIs: []string{webRedirect},
		GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, Scopes: []string{"demo:read"},
		Audiences: []string{apiURL}, SenderConstraint: store.ConstraintDPoP}
	if _, err := authz.CreateClient(ctx, st, &web, time.Now()); err != nil {
		c.t.Fatal(err)
	}
	feed := store.Client{ID: feedClient, Name: "gateways' revocation feed", AuthMethod: oauth.AuthSecretBasic,
		GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, Scopes: []string{revocation.ScopeRevocations}}
	if c.feedSecret, err = authz.CreateClient(ctx, st, &feed, time.Now()); err != nil {
		c.t.Fatal(err)
	}
	ph, err := password.Hash(userPass)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := st.CreateUser(ctx, &store.User{Subject: "u-alice", Username: userName, PasswordHash: ph, CreatedAt: time.Now()}); err != nil {
		c.t.Fatal(err)
	}
}

// newSigner returns a DPoP signer with a fresh P-256 key.
func (c *cluster) newSigner() *dpop.Signer { return clustertest.NewSigner(c.t) }

// response is a decoded answer.
type response = clustertest.Response

// do sends req with hc.
var do = clustertest.Do

// postToken posts form to in's /token with a DPoP proof (when given) and
// the client's credentials.
func (c *cluster) postToken(in *asInstance, form url.Values, proof string) *response {
	return c.flow.PostToken(c.via(in.hc), form, proof)
}

// via sends requests with hc, bound to one instance.
func (c *cluster) via(hc *http.Client) clustertest.Sender { return clustertest.Via(c.t, hc) }

// tokenProof makes a proof for the token endpoint with the last nonce.
func (c *cluster) tokenProof(sg *dpop.Signer) string { return c.flow.TokenProof(sg) }

// token runs a token request at in with a fresh proof from sg, answering
// one use_dpop_nonce challenge (RFC 9449 §8).
func (c *cluster) token(in *asInstance, form url.Values, sg *dpop.Signer) *response {
	return c.flow.Token(c.via(in.hc), form, sg)
}

// refreshLive reports whether the refresh token tok is live in the shared
// store: known, unrotated, its family not revoked.
func (c *cluster) refreshLive(tok string) bool {
	c.t.Helper()
	h := sha256.Sum256([]byte(tok))
	rt, fam, err := c.as[0].st.GetRefreshToken(context.Background(), h[:])
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return rt.RotatedAt.IsZero() && !fam.Revoked()
}

// raceRefresh presents rt n times at once, alternately at A and B, with
// fresh proofs of sg, and returns the refresh tokens of the answers ("" for
// an error).
func (c *cluster) raceRefresh(rt string, sg *dpop.Signer, n int) []string {
	c.t.Helper()
	proofs := make([]string, n)
	for i := range proofs {
		proofs[i] = c.tokenProof(sg)
	}
	got := make([]string, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, issuer+authz.PathToken, strings.NewReader(refreshForm(rt).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("DPoP", proofs[i])
			<-start
			resp, err := c.as[i%len(c.as)].hc.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			var out struct {
				RefreshToken string `json:"refresh_token"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&out)
			got[i] = out.RefreshToken
		})
	}
	close(start)
	wg.Wait()
	return got
}

// fetchNonce gets a DPoP nonce from in (a request without a proof is
// answered with one).
func (c *cluster) fetchNonce(in *asInstance) string {
	c.t.Helper()
	c.flow.Nonce = ""
	r := c.postToken(in, url.Values{"grant_type": {string(oauth.GrantClientCredentials)}}, "")
	if c.flow.Nonce == "" {
		c.t.Fatalf("AS %s gave no DPoP-Nonce: %v", in.name, r)
	}
	return c.flow.Nonce
}

// serviceToken gets a DPoP-bound access token for svc at in.
func (c *cluster) serviceToken(in *asInstance, sg *dpop.Signer) string {
	return c.flow.ServiceToken(c.via(in.hc), sg)
}

var (
	wantToken     = clustertest.WantToken
	wantError     = clustertest.WantError
	isLoginPage   = clustertest.IsLoginPage
	isConsentPage = clustertest.IsConsentPage
)

// apiProof makes a proof for GET path at the gateways, bound to tok.
func (c *cluster) apiProof(sg *dpop.Signer, path, tok string) string {
	return c.flow.APIProof(sg, path, tok)
}

// call sends GET path to a gateway with tok and proof.
func (c *cluster) call(g *gwInstance, path, tok, proof string) *response {
	return c.flow.Call(c.via(g.hc), path, tok, proof)
}

var rejectionRE = regexp.MustCompile(`(?m)^ward_gateway_rejections_total\{error="([^"]*)",reason="([^"]*)"\} (\S+)$`)

// rejections returns a gateway's ward_gateway_rejections_total by reason.
func (c *cluster) rejections(g *gwInstance) map[string]float64 {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.adminURL+"/metrics", nil)
	r := do(c.t, http.DefaultClient, req)
	out := map[string]float64{}
	for _, m := range rejectionRE.FindAllStringSubmatch(string(r.Body), -1) {
		v, _ := strconv.ParseFloat(m[3], 64)
		out[m[2]] += v
	}
	return out
}

// introspect asks in about tok (as the confidential client svc).
func (c *cluster) introspect(in *asInstance, tok string) *response {
	return c.flow.Introspect(c.via(in.hc), tok)
}

// --- the browser ---

// browser is a user agent with one cookie jar for the issuer's name,
// whichever instance answers.
type browser struct {
	c *cluster
	*clustertest.Browser
}

func (c *cluster) newBrowser() *browser { return &browser{c, c.flow.NewBrowser()} }

// get fetches u at in, following redirects within the issuer (at in).
func (b *browser) get(in *asInstance, u string) *response { return b.Get(b.c.via(in.hc), u) }

// login submits the login form of page r at in.
func (b *browser) login(in *asInstance, r *response) *response { return b.Login(b.c.via(in.hc), r) }

// consent allows on the consent page r at in.
func (b *browser) consent(in *asInstance, r *response) *response { return b.Consent(b.c.via(in.hc), r) }

// redisProxy forwards TCP to Redis and can be stopped (its port then
// refuses connections and open ones are cut) and started again on the
// same port: Redis going away and coming back, for one instance only.
type redisProxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newRedisProxy(t *testing.T, target string) *redisProxy {
	p := &redisProxy{t: t, target: target, addr: "127.0.0.1:0", conns: map[net.Conn]bool{}}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *redisProxy) start() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was just freed by stop
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("redis proxy: %v", err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.DialTimeout("tcp", p.target, time.Second)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln {
				p.mu.Unlock()
				in.Close()
				out.Close()
				return
			}
			p.conns[in], p.conns[out] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

func (p *redisProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// throughProxy sends instance B (authorization server and gateway) to
// Redis through p; A goes directly.
func throughProxy(p **redisProxy) clusterOpt {
	return func(c *cluster, i int) string {
		if *p == nil {
			*p = newRedisProxy(c.t, c.redisAddr)
		}
		if i == 1 {
			return (*p).addr
		}
		return c.redisAddr
	}
}

// throughPausable sends instance B to Redis through a wardtest.Proxy the
// test can pause; A goes directly.
func throughPausable(p **wardtest.Proxy) clusterOpt {
	return func(c *cluster, i int) string {
		if *p == nil {
			*p = wardtest.NewProxy(c.t, c.redisAddr)
		}
		if i == 1 {
			return (*p).Addr()
		}
		return c.redisAddr
	}
}
