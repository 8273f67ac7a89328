package multiinstance

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/redistest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store/redisstore"
)

// withDeployment makes every instance reach Redis through d.
func withDeployment(d redisstore.Deployment) clusterOpt {
	return func(c *cluster, _ int) string {
		c.deploy = &d
		return c.redisAddr
	}
}

// failoverShape starts one Redis deployment and returns how Ward reaches
// it and a function that kills a master (SIGKILL).
type failoverShape struct {
	name  string
	start func(t *testing.T) (redisstore.Deployment, func())
}

var failoverShapes = []failoverShape{
	{"sentinel", func(t *testing.T) (redisstore.Deployment, func()) {
		g := redistest.StartSentinel(t)
		return redisstore.Deployment{SentinelMaster: redistest.MasterName, SentinelAddrs: g.SentinelAddrs()},
			func() { g.Master(t).Kill() }
	}},
	{"cluster", func(t *testing.T) (redisstore.Deployment, func()) {
		cl := redistest.StartCluster(t)
		// The master of one slot: a third of the replay keys (random
		// hashes) live there.
		m := cl.MasterFor(t, "ward-failover")
		return redisstore.Deployment{ClusterAddrs: cl.Addrs()}, func() { m.Kill() }
	}},
}

// refreshFamily is one refresh-token family: its DPoP key and every
// refresh token it received, the last one live.
type refreshFamily struct {
	signer *dpop.Signer
	tokens []string
}

func (f *refreshFamily) last() string { return f.tokens[len(f.tokens)-1] }

// failoverLoad counts the answers of the steady load and when the 503s
// came.
type failoverLoad struct {
	t                   *testing.T
	counts              map[string]int // "gateway 200", "refresh 503", …
	rotations           int
	firstFail, lastFail time.Time
}

// check accepts 200, or 503 (with temporarily_unavailable from the token
// endpoint, RFC 6749 §5.2): fail closed, never a 500, never a false
// replay or invalid_grant.
func (l *failoverLoad) check(what string, n int, r *response) bool {
	l.t.Helper()
	l.counts[what+" "+http.StatusText(r.Status)]++
	switch {
	case r.Status == http.StatusOK:
		return true
	case r.Status == http.StatusServiceUnavailable && (what == "gateway" || r.Str("error") == "temporarily_unavailable"):
		if l.firstFail.IsZero() {
			l.firstFail = time.Now()
		}
		l.lastFail = time.Now()
		return false
	}
	l.t.Fatalf("%s %d during the failover: %v, want 200 or 503 temporarily_unavailable", what, n, r)
	return false
}

// TestRedisFailoverUnderLoad, for a Sentinel group and a Cluster: two
// authorization servers and two gateways, under a steady load of gateway
// calls with fresh proofs, refresh-token rotations of three families and
// client-credentials token requests (each with a fresh DPoP proof, whose
// replay check is in Redis) while a master is killed. Without restarting
// anything:
//
//   - every answer is 200 or 503 (temporarily_unavailable at the token
//     endpoint): never a 500, never a false replay, never an invalid_grant
//     for a token the client holds; some are 503, and 200s follow;
//   - proofs accepted by one gateway before the kill, sent to the other
//     after the failover, are refused (RFC 9449 §11.1) — with a plain
//     kill on loopback the replicas had them (docs/SCALEOUT.md: a lagging
//     replica can lose them unless redis.replay_min_replicas is set);
//   - each family's last refresh token works after the failover, and the
//     earlier ones are refused.
//
// It logs the window from the kill to the first and last 503.
func TestRedisFailoverUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a Redis master")
	}
	for _, s := range failoverShapes {
		t.Run(s.name, func(t *testing.T) {
			d, kill := s.start(t)
			c := newCluster(t, withDeployment(d))
			sg := c.newSigner()
			tok := c.serviceToken(c.as[0], sg)
			fams := c.refreshFamilies(3)
			seen := c.seenProofs(sg, tok, 30)
			l := &failoverLoad{t: t, counts: map[string]int{}}
			killed := c.runFailoverLoad(l, sg, tok, fams, kill)
			for i, p := range seen {
				if r := c.call(c.gw[(i+1)%2], whoami, tok, p); r.Status != http.StatusUnauthorized {
					t.Errorf("proof %d accepted by one gateway before the kill, sent to the other after: %v, want 401", i, r)
				}
			}
			c.checkFamilies(fams)
			t.Logf("answers %v; %d rotations; 503 from %v to %v after the kill", l.counts, l.rotations,
				l.firstFail.Sub(killed).Round(time.Millisecond), l.lastFail.Sub(killed).Round(time.Millisecond))
		})
	}
}

// refreshFamilies starts n families with the code flow at A.
func (c *cluster) refreshFamilies(n int) []*refreshFamily {
	c.t.Helper()
	fams := make([]*refreshFamily, n)
	for i := range fams {
		sg := c.newSigner()
		code, v := c.authorize(c.newBrowser(), c.as[0], c.as[0], c.as[0])
		r := c.token(c.as[0], codeForm(code, v), sg)
		wantToken(c.t, r)
		fams[i] = &refreshFamily{signer: sg, tokens: []string{r.Str("refresh_token")}}
	}
	return fams
}

// seenProofs returns n proofs, each accepted once by a gateway.
func (c *cluster) seenProofs(sg *dpop.Signer, tok string, n int) []string {
	c.t.Helper()
	var ps []string
	for i := range n {
		p := c.apiProof(sg, whoami, tok)
		if r := c.call(c.gw[i%2], whoami, tok, p); r.Status != http.StatusOK {
			c.t.Fatalf("call %d before the kill: %v", i, r)
		}
		ps = append(ps, p)
	}
	return ps
}

// runFailoverLoad sends the load, kills a master after 20 rounds and
// stops once the answers have been 200 for a second after a 503 (or
// fails after 30 s). It returns when the master was killed.
func (c *cluster) runFailoverLoad(l *failoverLoad, sg *dpop.Signer, tok string, fams []*refreshFamily, kill func()) time.Time {
	c.t.Helper()
	cc := c.newSigner()
	ccForm := url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}
	var killed time.Time
	after := 0 // rounds since the first 503
	for n, deadline := 0, time.Now().Add(30*time.Second); time.Now().Before(deadline); n++ {
		if n == 20 {
			kill()
			killed = time.Now()
		}
		in := c.as[n%2]
		l.check("gateway", n, c.call(c.gw[n%2], whoami, tok, c.apiProof(sg, whoami, tok)))
		f := fams[n%len(fams)]
		if r := c.token(in, refreshForm(f.last()), f.signer); l.check("refresh", n, r) {
			f.tokens = append(f.tokens, r.Str("refresh_token"))
			l.rotations++
		}
		l.check("client_credentials", n, c.token(in, ccForm, cc))
		if !l.lastFail.IsZero() {
			after++
		}
		if !l.lastFail.IsZero() && time.Since(l.lastFail) > time.Second && after > 20 {
			return killed
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("answers %v: want some 503s, then 200s for a second", l.counts)
	return killed
}

// checkFamilies: no earlier refresh token of a family is live in the
// store; each family's last one rotates, its successor too; the last one
// again and every earlier one are then refused.
func (c *cluster) checkFamilies(fams []*refreshFamily) {
	c.t.Helper()
	for i, f := range fams {
		for j, old := range f.tokens[:len(f.tokens)-1] {
			if c.refreshLive(old) {
				c.t.Errorf("family %d: earlier token %d still live after the failover", i, j)
			}
		}
		r := c.token(c.as[1], refreshForm(f.last()), f.signer)
		if r.Status != http.StatusOK {
			c.t.Errorf("family %d: its last refresh token after the failover: %v", i, r)
			continue
		}
		wantToken(c.t, c.token(c.as[0], refreshForm(r.Str("refresh_token")), f.signer))
		wantError(c.t, c.token(c.as[0], refreshForm(f.last()), f.signer), http.StatusBadRequest, "invalid_grant")
		for j, old := range f.tokens[:len(f.tokens)-1] {
			if r := c.token(c.as[j%2], refreshForm(old), f.signer); r.Status != http.StatusBadRequest || r.Str("error") != "invalid_grant" {
				c.t.Errorf("family %d: earlier token %d after the failover: %v, want invalid_grant", i, j, r)
			}
		}
	}
}
