package capacity

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/bench/internal/measure"
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
	// microseconds spent.
	evalsha           func() (calls, usec int64)
	wardPid, redisPid int
	// v is a bare P-256 verify, vs a verify plus a sign, in CPU time,
	// measured at the start.
	v, vs time.Duration
}

// startRedis runs a redis-server of the test's own on a free port, so
// that its CPU time and INFO are this test's alone.
func startRedis(t *testing.T) (string, int) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		wardtest.Unavailable(t, "redis-server is not installed (apt-get install redis-server)")
	}
	addr := wardtest.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	for deadline := time.Now().Add(5 * time.Second); rc.Ping(context.Background()).Err() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the test's redis-server did not answer")
		}
	}
	return addr, cmd.Process.Pid
}

func startRig(t *testing.T) *rig {
	dsn := wardtest.PostgresSchema(t, "ward_capacity_")
	redisAddr, redisPid := startRedis(t)
	rc := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() { rc.Close() })
	const prefix = "ward:" // the Redis is the test's own
	r := &rig{t: t, keyPrefix: prefix, redisPid: redisPid}
	r.pg = newCountingProxy(t, dsn.Host, parsePG)
	dsn.Host = r.pg.addr
	r.redis = newCountingProxy(t, redisAddr, parseRESP(prefix))
	r.redisKeys = func(pattern string) []string {
		var keys []string
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
# Generous Redis timeouts: the counting proxy and a loaded machine add
# latency, and a refused request would spoil the counts.
redis: {key_prefix: %[5]q, dial_timeout: 2s, read_timeout: 2s, write_timeout: 2s}
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
# One client address sends everything: the per-address limit stays on
# (its Redis command is part of the cost) but high enough not to refuse.
rate_limits: {token: {ip: {rate: 50000, period: 1m}}}
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
	r.wardPid = srv.Pid()
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
	ward       time.Duration // ward's CPU per request
	redisCPU   time.Duration // redis-server's CPU per request
}

func (c cost) per(v int64) float64 { return float64(v) / float64(c.n) }

// measure runs do n times, then idles as long, and returns the busy
// counts minus the idle ones.
// measure calls do(i) for i in [0, n) from workers goroutines, worker w
// taking the i ≡ w (mod workers), so that requests overlap as they do
// under load and the per-request wake-ups are shared.
func (r *rig) measure(name string, n, workers int, do func(i int)) cost {
	r.t.Helper()
	cpu := func() (time.Duration, time.Duration) { return measure.ProcCPU(r.wardPid), measure.ProcCPU(r.redisPid) }
	r0, p0 := r.redis.c.snap(), r.pg.c.snap()
	w0, rd0 := cpu()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				do(i)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	r1, p1 := r.redis.c.snap(), r.pg.c.snap()
	w1, rd1 := cpu()
	time.Sleep(took)
	r2, p2 := r.redis.c.snap(), r.pg.c.snap()
	w2, rd2 := cpu()
	idleR, idleP := r2.minus(r1), p2.minus(p1)
	c := cost{name: name, n: n, redis: r1.minus(r0).minus(idleR), pg: p1.minus(p0).minus(idleP),
		idleRedis: idleR.sum(all), idlePG: idleP.sum(all), wallPerReq: took / time.Duration(n),
		ward: max(0, (w1-w0)-(w2-w1)) / time.Duration(n), redisCPU: max(0, (rd1-rd0)-(rd2-rd1)) / time.Duration(n)}
	r.t.Logf("%s: per request: ward CPU %v (%.2f × a bare verify, %.2f × verify+sign), redis-server CPU %v; Redis %.2f commands, %.0f B up, %.0f B down; PostgreSQL %.2f statements (%.2f writes, %.2f reads, %.2f locking reads, %.2f tx); idle stretch: %d Redis commands, %d statements",
		name, c.ward.Round(time.Microsecond), float64(c.ward)/float64(r.v), float64(c.ward)/float64(r.vs), c.redisCPU.Round(time.Microsecond),
		c.per(c.redis.sum(all)), c.per(c.redis.up), c.per(c.redis.down),
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
//	go test ./bench/capacity -run TestPerRequestCosts -v
func TestPerRequestCosts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the ward binary")
	}
	if wardtest.Race {
		t.Skip("CPU figures mean nothing under the race detector; the counts are checked without it")
	}
	r := startRig(t)
	r.v, r.vs = measure.BareVerify(300*time.Millisecond), measure.BareVerifySign(300*time.Millisecond)
	t.Logf("bare P-256 in CPU time: verify %v, verify + sign %v", r.v.Round(time.Microsecond), r.vs.Round(time.Microsecond))
	sg := clustertest.NewSigner(t)
	ccForm := url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}
	// ok checks a token response from any goroutine.
	ok := func(what string, resp *clustertest.Response) string {
		if resp.Status != http.StatusOK || resp.Str("access_token") == "" {
			t.Errorf("%s: %v", what, resp)
		}
		return resp.Str("refresh_token")
	}
	token := func() string {
		resp := r.flow.Token(r.send, ccForm, sg)
		ok("client_credentials", resp)
		return resp.Str("access_token")
	}
	tok := token()
	call := func(path string) {
		p, err := sg.Proof(http.MethodGet, r.gwURL+path, dpop.WithAccessToken(tok))
		if err != nil {
			t.Error(err)
			return
		}
		if resp := r.flow.Call(r.send, path, tok, p); resp.Status != http.StatusOK {
			t.Errorf("gateway %s: %v", path, resp)
		}
	}
	for range 5 { // warm: pools, statement caches, the gateway's keys
		token()
		call("/api/x")
		call("/limited/x")
	}

	calls0, usec0 := r.evalsha()
	const workers = 8
	cc := r.measure("client_credentials token (DPoP)", 400, workers, func(int) { token() })
	api := r.measure("gateway call, no rate limit", 2000, workers, func(int) { call("/api/x") })
	limited := r.measure("gateway call, 3 rate-limit tiers", 2000, workers, func(int) { call("/limited/x") })

	type grant struct{ code, verifier string }
	var grants []grant
	login := r.measure("authorization: authorize, login, consent (browser)", workers, 1, func(int) {
		b := r.flow.NewBrowser()
		u, v := r.flow.AuthorizeURL()
		resp := b.Login(r.send, b.Get(r.send, u))
		if clustertest.IsConsentPage(resp) {
			resp = b.Consent(r.send, resp)
		}
		grants = append(grants, grant{r.flow.CodeFrom(resp), v})
	})
	rts := make([]string, workers) // one family per worker
	exchange := r.measure("code exchange (DPoP)", workers, workers, func(i int) {
		resp := r.flow.Token(r.send, clustertest.CodeForm(webClient, webRedirect, grants[i].code, grants[i].verifier), sg)
		rts[i] = ok("code exchange", resp)
	})
	if t.Failed() {
		t.FailNow()
	}
	refresh := r.measure("refresh-token rotation (DPoP)", 400, workers, func(i int) {
		resp := r.flow.Token(r.send, clustertest.RefreshForm(webClient, rts[i%workers]), sg)
		rts[i%workers] = ok("refresh", resp)
	})

	// Redis's own time per script call (INFO commandstats), the
	// command's execution only, not reading and writing the sockets.
	calls1, usec1 := r.evalsha()
	if calls1 > calls0 {
		perCall := time.Duration(float64(usec1-usec0) / float64(calls1-calls0) * float64(time.Microsecond))
		t.Logf("Redis EVALSHA: %v of execution per call (INFO commandstats, %d calls; %.2f × a bare verify); redis-server CPU per command, all included: %v (%.2f × a bare verify; gateway calls)",
			perCall, calls1-calls0, float64(perCall)/float64(r.v), (api.redisCPU).Round(time.Microsecond), float64(api.redisCPU)/float64(r.v))
	}

	// Memory per key in Redis.
	shapes := map[string]int{}
	for _, k := range r.redisKeys("*") {
		shapes[keyShape(k, r.keyPrefix)]++
	}
	t.Logf("Redis keys under the test's prefix, by shape: %v", shapes)
	for _, kind := range []string{"dpop:*", "rl:*"} {
		keys := r.redisKeys(kind)
		if len(keys) == 0 { // rate-limit keys vanish once their bucket is full again
			t.Logf("no %s keys left under the test's prefix", kind)
			continue
		}
		var sum int64
		for _, k := range keys {
			sum += r.memoryOf(k)
		}
		t.Logf("Redis MEMORY USAGE of %s keys: %d keys, %.0f B each on average (key %d bytes long)", kind, len(keys), float64(sum)/float64(len(keys)), len(keys[0]))
	}

	// What the capacity model relies on. A change that makes a request
	// dearer fails here, and docs/CAPACITY.md is brought up to date. (A
	// count can come out slightly negative: the idle stretch subtracted
	// had a background statement more than the busy one.)
	within := func(c cost, what string, got, lo, hi float64) {
		t.Helper()
		if got < lo || got > hi {
			t.Errorf("%s: %.2f %s per request, docs/CAPACITY.md counts %v–%v", c.name, got, what, lo, hi)
		}
	}
	redisCmds := func(c cost) float64 { return c.per(c.redis.sum(all)) }
	pgStmts := func(c cost) float64 { return c.per(c.pg.sum(all)) }
	// A request's own writes: the background's (the sweeper's deletes,
	// the logout outbox's claims) can fall in a batch's window.
	pgWrites := func(c cost) float64 {
		return c.per(c.pg.sum(func(k string) bool {
			return isClass("write")(k) && !strings.HasPrefix(k, "write: DELETE") && !strings.Contains(k, "logout_outbox")
		}))
	}
	within(api, "Redis commands", redisCmds(api), 0.9, 1.1)
	within(api, "PostgreSQL statements", pgStmts(api), -0.1, 0.1)
	within(limited, "Redis commands", redisCmds(limited), 3.9, 4.1)
	within(limited, "PostgreSQL statements", pgStmts(limited), -0.1, 0.1)
	within(cc, "Redis commands", redisCmds(cc), 3.9, 4.1)
	within(cc, "PostgreSQL writes", pgWrites(cc), -0.1, 0.1)
	within(exchange, "PostgreSQL writes", pgWrites(exchange), 2.9, 3.1)
	within(refresh, "PostgreSQL writes", pgWrites(refresh), 1.9, 2.1)
	within(login, "PostgreSQL writes", pgWrites(login), 3.5, 4.1)
	if t.Failed() {
		t.Log("the per-kind lines above show what changed")
	}
}
