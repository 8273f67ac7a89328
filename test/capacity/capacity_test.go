package capacity

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/clustertest"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/oauth"
)

const (
	svcClient   = "svc"
	svcSecret   = "svc-secret-for-the-capacity-test"
	webClient   = "web"
	webRedirect = "http://127.0.0.1/cb"
	userName    = "alice"
	userPass    = "correct horse battery staple"
)

// rig is one `ward serve` (authorization server and gateway) whose
// PostgreSQL and Redis are behind counting proxies.
type rig struct {
	t          *testing.T
	redis, pg  *countingProxy
	flow       *clustertest.Flow
	send       clustertest.Sender
	gwURL      string
	redisKeys  func(pattern string) []string
	memoryOf   func(key string) int64
	keyPrefix  string
	configPath string
	// evalsha reads Redis's INFO commandstats for EVALSHA: calls and
	// microseconds spent, server-wide.
	evalsha func() (calls, usec int64)
}

func startRig(t *testing.T) *rig {
	dsn := wardtest.PostgresSchema(t, "ward_capacity_")
	redisAddr, rc, prefix := wardtest.Redis(t, "capacity")
	r := &rig{t: t, keyPrefix: prefix}
	r.pg = newCountingProxy(t, dsn.Host, parsePG)
	dsn.Host = r.pg.addr
	r.redis = newCountingProxy(t, redisAddr, parseRESP(prefix))
	r.redisKeys = func(pattern string) []string {
		var keys []string // SCAN of the test's own prefix only
		it := rc.Scan(context.Background(), 0, prefix+pattern, 1000).Iterator()
		for it.Next(context.Background()) {
			keys = append(keys, it.Val())
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	r.evalsha = func() (int64, int64) {
		info, err := rc.Info(context.Background(), "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		var calls, usec int64
		for _, line := range strings.Split(info, "\n") {
			if strings.HasPrefix(line, "cmdstat_evalsha:") {
				_, _ = fmt.Sscanf(strings.TrimPrefix(line, "cmdstat_evalsha:"), "calls=%d,usec=%d", &calls, &usec)
			}
		}
		return calls, usec
	}
	r.memoryOf = func(key string) int64 {
		n, err := rc.MemoryUsage(context.Background(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	dir := t.TempDir()
	bin, err := wardtest.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := mtlstest.Loopback(t, dir)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(upstream.Close)
	asAddr, gwAddr, adminAddr := wardtest.FreeAddr(t), wardtest.FreeAddr(t), wardtest.FreeAddr(t)
	issuer := "https://" + asAddr
	r.gwURL = "https://" + gwAddr
	cfg := fmt.Sprintf(`issuer: %[1]s
listen: %[2]s
tls: {cert_file: %[3]s, key_file: %[4]s}
store: {driver: postgres}
redis: {key_prefix: %[5]q}
clients:
  - id: %[6]s
    auth_method: client_secret_basic
    secret_env: WARD_TEST_SVC_SECRET
    grant_types: [client_credentials]
    scopes: [demo:read]
    audiences: [%[7]s]
  - id: %[8]s
    auth_method: none
    redirect_uris: [%[9]s]
    grant_types: [authorization_code, refresh_token]
    scopes: [demo:read]
    audiences: [%[7]s]
users:
  - {subject: u-alice, username: %[10]s, password_env: WARD_TEST_ALICE_PASSWORD}
gateway:
  enabled: true
  listen: %[11]s
  admin_listen: %[12]s
  tls: {cert_file: %[3]s, key_file: %[4]s}
  public_url: %[7]s
  routes:
    - name: api
      path_prefix: /api/
      upstream: %[13]s
      policy: [{name: read, action: allow, principals: ["*"], methods: [GET]}]
    - name: limited
      path_prefix: /limited/
      upstream: %[13]s
      policy: [{name: read, action: allow, principals: ["*"], methods: [GET]}]
      rate_limits:
        ip: {rate: 50000, period: 1m}
        client: {rate: 50000, period: 1m}
        subject: {rate: 50000, period: 1m}
`, issuer, asAddr, p.CertFile, p.KeyFile, prefix, svcClient, r.gwURL, webClient, webRedirect, userName, gwAddr, adminAddr, upstream.URL)
	r.configPath = filepath.Join(dir, "ward.yaml")
	if err := os.WriteFile(r.configPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := wardtest.Start(t, bin, []string{
		"WARD_STORE_DSN=" + dsn.String(),
		"WARD_REDIS_URL=redis://" + r.redis.addr + "/0",
		"WARD_FLOW_KEY=" + wardtest.RandKey(),
		"WARD_KEY_ENCRYPTION_KEY=" + wardtest.RandKey(),
		"WARD_TEST_SVC_SECRET=" + svcSecret,
		"WARD_TEST_ALICE_PASSWORD=" + userPass,
		"SSL_CERT_FILE=" + p.CAFile,
	}, "serve", "--config", r.configPath)
	hc := &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	srv.WaitReady(t, hc, issuer+"/.well-known/oauth-authorization-server", "http://"+adminAddr+"/readyz")
	r.send = clustertest.Via(t, hc)
	r.flow = &clustertest.Flow{T: t, Issuer: issuer, API: r.gwURL, SvcClient: svcClient, SvcSecret: svcSecret,
		WebClient: webClient, WebRedirect: webRedirect, User: userName, Password: userPass}
	return r
}

// cost is what n requests of one kind cost, the idle traffic of as long
// subtracted.
type cost struct {
	name       string
	n          int
	redis, pg  snapshot
	idleRedis  int64 // Redis commands in the idle stretch
	idlePG     int64 // PostgreSQL statements in the idle stretch
	wallPerReq time.Duration
}

func (c cost) per(v int64) float64 { return float64(v) / float64(c.n) }

// measure runs do n times, then idles as long, and returns the busy
// counts minus the idle ones.
func (r *rig) measure(name string, n int, do func(i int)) cost {
	r.t.Helper()
	r0, p0 := r.redis.c.snap(), r.pg.c.snap()
	start := time.Now()
	for i := range n {
		do(i)
	}
	took := time.Since(start)
	r1, p1 := r.redis.c.snap(), r.pg.c.snap()
	time.Sleep(took)
	r2, p2 := r.redis.c.snap(), r.pg.c.snap()
	idleR, idleP := r2.minus(r1), p2.minus(p1)
	c := cost{name: name, n: n, redis: r1.minus(r0).minus(idleR), pg: p1.minus(p0).minus(idleP),
		idleRedis: idleR.sum(all), idlePG: idleP.sum(all), wallPerReq: took / time.Duration(n)}
	r.t.Logf("%s: per request: Redis %.2f commands, %.0f B up, %.0f B down; PostgreSQL %.2f statements (%.2f writes, %.2f reads, %.2f locking reads, %.2f tx); idle stretch: %d Redis commands, %d statements",
		name, c.per(c.redis.sum(all)), c.per(c.redis.up), c.per(c.redis.down),
		c.per(c.pg.sum(all)), c.per(c.pg.sum(isClass("write"))), c.per(c.pg.sum(isClass("read"))), c.per(c.pg.sum(isClass("read-lock"))), c.per(c.pg.sum(isClass("tx"))),
		c.idleRedis, c.idlePG)
	for _, s := range []snapshot{c.redis, c.pg} {
		var ks []string
		for k := range s.kinds {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			r.t.Logf("    %6.2f  %s", c.per(s.kinds[k]), k)
		}
	}
	return c
}

func all(string) bool { return true }

// TestPerRequestCosts measures Redis commands and bytes and PostgreSQL
// statements per request of each kind, for docs/CAPACITY.md:
//
//	go test ./test/capacity -run TestPerRequestCosts -v
func TestPerRequestCosts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the ward binary")
	}
	r := startRig(t)
	sg := clustertest.NewSigner(t)
	ccForm := url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}
	token := func() string {
		resp := r.flow.Token(r.send, ccForm, sg)
		clustertest.WantToken(t, resp)
		return resp.Str("access_token")
	}
	tok := token()
	call := func(path string) {
		p, err := sg.Proof(http.MethodGet, r.gwURL+path, dpop.WithAccessToken(tok))
		if err != nil {
			t.Fatal(err)
		}
		if resp := r.flow.Call(r.send, path, tok, p); resp.Status != http.StatusOK {
			t.Fatalf("gateway %s: %v", path, resp)
		}
	}
	for range 5 { // warm: pools, statement caches, the gateway's keys
		token()
		call("/api/x")
		call("/limited/x")
	}

	calls0, usec0 := r.evalsha()
	cc := r.measure("client_credentials token (DPoP)", 40, func(int) { token() })
	api := r.measure("gateway call, no rate limit", 100, func(int) { call("/api/x") })
	limited := r.measure("gateway call, 3 rate-limit tiers", 100, func(int) { call("/limited/x") })

	type grant struct{ code, verifier string }
	var grants []grant
	login := r.measure("authorization: authorize, login, consent (browser)", 5, func(int) {
		b := r.flow.NewBrowser()
		u, v := r.flow.AuthorizeURL()
		resp := b.Login(r.send, b.Get(r.send, u))
		if clustertest.IsConsentPage(resp) {
			resp = b.Consent(r.send, resp)
		}
		grants = append(grants, grant{r.flow.CodeFrom(resp), v})
	})
	var rt string
	exchange := r.measure("code exchange (DPoP)", len(grants), func(i int) {
		resp := r.flow.Token(r.send, clustertest.CodeForm(webClient, webRedirect, grants[i].code, grants[i].verifier), sg)
		clustertest.WantToken(t, resp)
		rt = resp.Str("refresh_token")
	})
	refresh := r.measure("refresh-token rotation (DPoP)", 20, func(int) {
		resp := r.flow.Token(r.send, clustertest.RefreshForm(webClient, rt), sg)
		clustertest.WantToken(t, resp)
		rt = resp.Str("refresh_token")
	})

	// Redis's own time per script call (INFO commandstats, server-wide:
	// other users of the same Redis count too), the command's execution
	// only, not reading and writing the sockets.
	calls1, usec1 := r.evalsha()
	if calls1 > calls0 {
		t.Logf("Redis EVALSHA: %.1f µs of execution per call (INFO commandstats, %d calls, server-wide)", float64(usec1-usec0)/float64(calls1-calls0), calls1-calls0)
	}

	// Memory per key in Redis.
	shapes := map[string]int{}
	for _, k := range r.redisKeys("*") {
		shapes[keyShape(k, r.keyPrefix)]++
	}
	t.Logf("Redis keys under the test's prefix, by shape: %v", shapes)
	for _, kind := range []string{"dpop:*", "rl:*"} {
		keys := r.redisKeys(kind)
		if len(keys) == 0 {
			t.Errorf("no %s keys under the test's prefix", kind)
			continue
		}
		var sum int64
		for _, k := range keys {
			sum += r.memoryOf(k)
		}
		t.Logf("Redis MEMORY USAGE of %s keys: %d keys, %.0f B each on average (key %d bytes long)", kind, len(keys), float64(sum)/float64(len(keys)), len(keys[0]))
	}

	// What the capacity model relies on. A change that makes a request
	// dearer fails here, and docs/CAPACITY.md is brought up to date.
	within := func(c cost, what string, got, lo, hi float64) {
		t.Helper()
		if got < lo || got > hi {
			t.Errorf("%s: %.2f %s per request, docs/CAPACITY.md counts %v–%v", c.name, got, what, lo, hi)
		}
	}
	redisCmds := func(c cost) float64 { return c.per(c.redis.sum(all)) }
	pgStmts := func(c cost) float64 { return c.per(c.pg.sum(all)) }
	pgWrites := func(c cost) float64 { return c.per(c.pg.sum(isClass("write"))) }
	within(api, "Redis commands", redisCmds(api), 0.9, 1.1)
	within(api, "PostgreSQL statements", pgStmts(api), 0, 0.1)
	within(limited, "Redis commands", redisCmds(limited), 3.9, 4.1)
	within(limited, "PostgreSQL statements", pgStmts(limited), 0, 0.1)
	within(cc, "Redis commands", redisCmds(cc), 3.9, 4.1)
	within(cc, "PostgreSQL writes", pgWrites(cc), 0, 0.1)
	within(exchange, "PostgreSQL writes", pgWrites(exchange), 1, 6)
	within(refresh, "PostgreSQL writes", pgWrites(refresh), 1, 4)
	within(login, "PostgreSQL writes", pgWrites(login), 1, 12)
	if t.Failed() {
		t.Log("the per-kind lines above show what changed")
	}
}
