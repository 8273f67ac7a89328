package multiprocess

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/internal/clustertest"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/mtls/mtlstest"
)

// pushGateway is the events.push.issuer of the gateway-only process.
const pushGateway = "https://gw-push.ward.test"

// leakCluster is two full instances (authorization server and gateway in
// one process each, "A" and "B") sharing PostgreSQL and Redis, and one
// gateway-only process that pushes its events to the authorization
// servers as SETs (events.push). Behind the gateway balancer, "A" is
// instance A's gateway and "B" the gateway-only process.
type leakCluster struct {
	cluster
	procs map[string]*wardtest.Process
}

// TestLeakToRefusal measures, across instances, the time from a leaked
// token's presentation at one instance's gateway to its family's refresh
// token refused at instance B's authorization server: (a) leaked at full
// instance A (the local response revokes the family in the shared store),
// (b) leaked at the gateway-only process (its SET pushed to the
// authorization servers, which revoke). WARD_TEST_LEAK_TRIALS sets the
// trials per shape (default 5; docs/EVENTS.md reports 50).
func TestLeakToRefusal(t *testing.T) {
	c := newLeakCluster(t)
	trials := 5
	if n, err := strconv.Atoi(os.Getenv("WARD_TEST_LEAK_TRIALS")); err == nil && n > 0 {
		trials = n
	}
	for _, shape := range []struct{ name, gw string }{
		{"full instance A, local response", "A"},
		{"gateway-only, pushed SET", "B"},
	} {
		var took []time.Duration
		early := 0
		for range trials {
			d, n := c.leakToRefusal(t, shape.gw)
			took, early = append(took, d), early+n
		}
		slices.Sort(took)
		t.Logf("%s: leaked token to refresh refused at B, %d trials: median %v, max %v (%d refreshes still accepted in all)",
			shape.name, trials, took[len(took)/2].Round(100*time.Microsecond), took[len(took)-1].Round(100*time.Microsecond), early)
	}
	if out := c.procs["gw"].Output(); strings.Contains(out, "not pushed") {
		t.Errorf("the gateway-only process failed to push an event:\n%s", out)
	}
}

// leakToRefusal signs in at B, presents the DPoP-bound access token as
// Bearer at gateway gw (token_leaked), then refreshes at B until the
// refresh token is refused; it returns the time from the presentation to
// the refusal, and how many refreshes were accepted before it.
func (c *leakCluster) leakToRefusal(t *testing.T, gw string) (time.Duration, int) {
	t.Helper()
	c.t = t
	sg := c.newSigner()
	code, v := c.authorize("B")
	r := c.token("B", codeForm(code, v), sg)
	wantToken(t, r)
	rt := r.Str("refresh_token")
	req, _ := http.NewRequest(http.MethodGet, c.gwLB.url+"/api/x", nil)
	req.Header.Set("Authorization", "Bearer "+r.Str("access_token"))
	start := time.Now()
	if got := c.do(req, gw, nil); got.Status != http.StatusUnauthorized {
		t.Fatalf("a DPoP-bound token as Bearer at gateway %s: %v, want 401", gw, got)
	}
	for n := 0; ; n++ {
		r := c.token("B", refreshForm(rt), sg)
		if r.Status == http.StatusBadRequest && r.Str("error") == "invalid_grant" {
			return time.Since(start), n
		}
		wantToken(t, r)
		rt = r.Str("refresh_token")
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the family of a token leaked at gateway %s is not revoked after 10s", gw)
		}
	}
}

func newLeakCluster(t *testing.T) *leakCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes, PostgreSQL and Redis: skipped under -short")
	}
	dsn := pgSchema(t)
	rd := startRedis(t)
	dir := t.TempDir()
	c := &leakCluster{cluster: cluster{t: t, bin: mustBuild(t, dir), dir: dir, redis: rd, admin: map[string]string{},
		as: map[string]*wardtest.Process{}}, procs: map[string]*wardtest.Process{}}
	p := mtlstest.Loopback(t, dir)
	c.env = []string{"WARD_STORE_DSN=" + dsn, "WARD_REDIS_URL=redis://" + rd.addr + "/0",
		"WARD_FLOW_KEY=" + wardtest.RandKey(), "WARD_KEY_ENCRYPTION_KEY=" + wardtest.RandKey(),
		"WARD_DPOP_NONCE_SECRET=" + wardtest.RandKey(), "WARD_TEST_SVC_SECRET=" + svcSecret,
		"WARD_TEST_FEED_SECRET=" + feedSecret, "WARD_TEST_ALICE_PASSWORD=" + userPass,
		"SSL_CERT_FILE=" + p.CAFile, "GOMAXPROCS=1"}
	c.client = &http.Client{Timeout: 10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	upstream := startUpstream(t)
	asAddr := map[string]string{"A": wardtest.FreeAddr(t), "B": wardtest.FreeAddr(t)}
	gwAddr := map[string]string{"A": wardtest.FreeAddr(t), "B": wardtest.FreeAddr(t)}
	c.asLB, c.gwLB = newBalancer(t, p, asAddr), newBalancer(t, p, gwAddr)
	c.flow = &clustertest.Flow{T: t, Issuer: c.asLB.url, API: c.gwLB.url, SvcClient: svcClient, SvcSecret: svcSecret,
		WebClient: webClient, WebRedirect: webRedirect, User: userName, Password: userPass}
	keyFile, pubFile := c.writeSETKey()
	// Instance B's gateway is not behind the balancer: its "B" is the
	// gateway-only process.
	fullGW := map[string]string{"A": gwAddr["A"], "B": wardtest.FreeAddr(t)}
	for _, n := range []string{"A", "B"} {
		adm := wardtest.FreeAddr(t)
		path := c.write("full-"+n+".yaml", c.fullConfig(asAddr[n], fullGW[n], adm, upstream, pubFile))
		c.procs[n] = wardtest.StartNamed(t, "full-"+n, c.bin, c.env, "serve", "--config", path)
		waitHTTP(t, c.procs[n], "http://"+asAddr[n]+authz.PathMetadata)
		waitHTTP(t, c.procs[n], "http://"+adm+"/readyz")
	}
	adm := wardtest.FreeAddr(t)
	push := fmt.Sprintf("events:\n  push: {url: %s%s, issuer: %s, key_file: %s}\n", c.asLB.url, authz.PathEventsPush, pushGateway, keyFile)
	path := c.write("gw-push.yaml", c.gwConfig(gwAddr["B"], adm, upstream)+push)
	c.procs["gw"] = wardtest.StartNamed(t, "gw-push", c.bin, c.env, "serve", "--config", path)
	waitHTTP(t, c.procs["gw"], "http://"+adm+"/readyz")
	return c
}

// writeSETKey writes the gateway-only process's SET key and its public
// key (events.push.key_file, events.receive.senders[].public_key_file).
func (c *leakCluster) writeSETKey() (keyFile, pubFile string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		c.t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.write("gw-push.key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))),
		c.write("gw-push.pub.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})))
}

// fullConfig is a full instance's file: the authorization server's
// (asConfig) with a gateway, and the push endpoint for the gateway-only
// process.
func (c *leakCluster) fullConfig(asListen, gwListen, admin, upstream, pubFile string) string {
	return c.asConfig(asListen) + fmt.Sprintf(`gateway:
  enabled: true
  listen: %s
  admin_listen: %s
  behind_tls_proxy: {trusted_proxies: [127.0.0.1/32]}
  public_url: %s
  routes:
    - name: api
      path_prefix: /api/
      upstream: %s
      policy: [{name: read, action: allow, principals: ["*"], methods: [GET]}]
events:
  receive:
    enabled: true
    senders: [{issuer: %s, public_key_file: %s}]
`, gwListen, admin, c.gwLB.url, upstream, pushGateway, pubFile)
}
