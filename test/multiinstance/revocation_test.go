package multiinstance

import (
	"flag"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/revocation"
)

// revocationSamples is how many revocations TestRevocationLatency times
// (docs/PERFORMANCE.md uses 50).
var revocationSamples = flag.Int("revocation-samples", 10, "revocations timed by TestRevocationLatency")

// revocationBound is how long a revocation may take to reach a gateway in
// these tests: the 100 ms poll interval plus a generous margin for a
// loaded machine. A correctness bound, not a performance assertion.
const revocationBound = 5 * time.Second

// feedOptions shape a gateway's revocation feed.
type feedOptions struct {
	hc         *http.Client // reaches an authorization server
	interval   time.Duration
	staleAfter time.Duration
	serveStale bool
	pollOnly   bool // no wake-ups through Redis
	wakeups    *revocation.Wakeups
}

// feed builds the follower of a gateway: the /revocations endpoint read
// as the client feed.
func (c *cluster) feed(name string, fo *feedOptions) *revocation.Follower {
	if fo.interval == 0 {
		fo.interval = 100 * time.Millisecond
	}
	fo.wakeups = revocation.NewWakeups()
	return &revocation.Follower{
		Wake:     fo.wakeups.C(),
		Source:   &revocation.HTTP{URL: issuer + authz.PathRevocations, ClientID: feedClient, ClientSecret: c.feedSecret, Client: fo.hc},
		Set:      revocation.NewSet(revocation.SetOptions{StaleAfter: fo.staleAfter, ServeStale: fo.serveStale}),
		Interval: fo.interval, Logger: c.logger("feed-" + name),
	}
}

// revoke revokes tok at in (RFC 7009) as the client svc.
func (c *cluster) revoke(in *asInstance, tok, clientID, secret string) {
	c.t.Helper()
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, _ := http.NewRequest(http.MethodPost, issuer+authz.PathRevoke, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	if r := do(c.t, in.hc, req); r.Status != http.StatusOK {
		c.t.Fatalf("revoke at %s: %v", in.name, r)
	}
}

// accepted fails the test unless g accepts tok. A 503 (the shared
// replay store slow on a loaded machine) is retried.
func (c *cluster) accepted(g *gwInstance, sg *dpop.Signer, tok string) {
	c.t.Helper()
	for try := 0; ; try++ {
		r := c.call(g, whoami, tok, c.apiProof(sg, whoami, tok))
		if r.Status == http.StatusOK {
			return
		}
		if r.Status != http.StatusServiceUnavailable || try == 3 {
			c.t.Fatalf("gateway %s refused a live token: %v", g.name, r)
		}
	}
}

// waitRevoked polls g with tok until it is refused as revoked (401
// invalid_token with a description) and returns how long that took; it
// fails the test past revocationBound or on any other answer.
func (c *cluster) waitRevoked(g *gwInstance, sg *dpop.Signer, tok string) time.Duration {
	c.t.Helper()
	start := time.Now()
	for {
		r := c.call(g, whoami, tok, c.apiProof(sg, whoami, tok))
		switch r.Status {
		case http.StatusOK, http.StatusServiceUnavailable: // 503: see accepted
		case http.StatusUnauthorized:
			ch := r.Header.Get("WWW-Authenticate")
			if !strings.Contains(ch, `error="invalid_token"`) || !strings.Contains(ch, "revoked") {
				c.t.Fatalf("gateway %s: %v, challenge %q, want invalid_token \"...revoked\"", g.name, r, ch)
			}
			return time.Since(start)
		default:
			c.t.Fatalf("gateway %s: %v", g.name, r)
		}
		if time.Since(start) > revocationBound {
			c.t.Fatalf("gateway %s still accepts a token revoked %v ago", g.name, time.Since(start))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRevokedTokenRefusedAtGateways: an access token revoked at
// authorization server B (RFC 7009) is refused at both gateways within
// the bound, though both had it in their token caches, with 401
// invalid_token, reason revoked in the metrics and the log; a gateway
// started afterwards refuses it from its first answer (catch-up).
func TestRevokedTokenRefusedAtGateways(t *testing.T) {
	c := newCluster(t)
	sg := c.newSigner()
	tok := c.serviceToken(c.as[0], sg)
	other := c.serviceToken(c.as[0], sg)
	for _, g := range c.gw {
		c.accepted(g, sg, tok)
	}
	c.revoke(c.as[1], tok, svcClient, c.svcSecret)
	for _, g := range c.gw {
		d := c.waitRevoked(g, sg, tok)
		t.Logf("gateway %s refused the revoked token after %v", g.name, d)
		if got := c.rejections(g)["revoked"]; got < 1 {
			t.Errorf("gateway %s rejections{reason=revoked} = %v", g.name, got)
		}
		c.accepted(g, sg, other) // only the revoked token
	}
	if log := c.log.String(); !strings.Contains(log, "reason=revoked") {
		t.Errorf("no rejection logged with reason=revoked:\n%s", log)
	}
	// A gateway (re)started now catches up before it answers.
	late := c.startGateway("C", c.redisAddr, c.as[0])
	r := c.call(late, whoami, tok, c.apiProof(sg, whoami, tok))
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), "revoked") {
		t.Fatalf("restarted gateway: %v, want 401 revoked", r)
	}
	c.accepted(late, sg, other)
}

// TestFamilyRevokedAtGateways: a refresh token replayed at B revokes its
// family (RFC 9700 §4.14.2); every access token of the family, issued by
// A or B, is then refused at both gateways within the bound.
func TestFamilyRevokedAtGateways(t *testing.T) {
	c := newCluster(t)
	sg := c.newSigner()
	code, v := c.authorize(c.newBrowser(), c.as[0], c.as[0], c.as[0])
	r1 := c.token(c.as[0], codeForm(code, v), sg)
	wantToken(t, r1)
	r2 := c.token(c.as[1], refreshForm(r1.Str("refresh_token")), sg)
	wantToken(t, r2)
	family := []string{r1.Str("access_token"), r2.Str("access_token")}
	unrelated := c.serviceToken(c.as[0], sg)
	for _, g := range c.gw {
		for _, at := range family {
			c.accepted(g, sg, at)
		}
	}
	// The rotated refresh token presented at B with another key (a
	// thief): the family is revoked.
	wantError(t, c.token(c.as[1], refreshForm(r1.Str("refresh_token")), c.newSigner()), http.StatusBadRequest, "invalid_grant")
	for _, g := range c.gw {
		for _, at := range family {
			c.waitRevoked(g, sg, at)
		}
		c.accepted(g, sg, unrelated)
	}
}

// TestRevocationFeedOutage: the feed of one gateway is cut. Past
// stale_after it says so on /readyz and in the log and, with on_stale
// refuse (the default), refuses every token with 503 (reason
// revocations_stale); another with on_stale serve stays ready (saying the
// feed is stale) and serves. When the feed is back, both recover.
func TestRevocationFeedOutage(t *testing.T) {
	c := newCluster(t)
	sg := c.newSigner()
	tok := c.serviceToken(c.as[0], sg)
	px := wardtest.NewProxy(t, c.as[0].addr)
	const stale = time.Second
	strict := c.startGatewayFeed("strict", c.redisAddr, c.as[0], feedOptions{hc: routeTo(px.Addr()), staleAfter: stale})
	lax := c.startGatewayFeed("lax", c.redisAddr, c.as[0], feedOptions{hc: routeTo(px.Addr()), staleAfter: stale, serveStale: true})
	for _, g := range []*gwInstance{strict, lax} {
		c.accepted(g, sg, tok)
		if code, body := c.readyz(g); code != http.StatusOK {
			t.Fatalf("gateway %s /readyz with its feed up: %d %s", g.name, code, body)
		}
	}
	px.Cut()
	c.eventually("strict gateway not ready", func() bool {
		code, body := c.readyz(strict)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "revocation feed stale")
	})
	r := c.call(strict, whoami, tok, c.apiProof(sg, whoami, tok))
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="temporarily_unavailable"`) {
		t.Fatalf("strict gateway with a stale feed: %v %q, want 503 temporarily_unavailable", r, r.Header.Get("WWW-Authenticate"))
	}
	if got := c.rejections(strict)["revocations_stale"]; got < 1 {
		t.Errorf("strict rejections{reason=revocations_stale} = %v", got)
	}
	// Each gateway finds its own feed stale at its own poll: the lax one
	// may still be a moment behind the strict one.
	c.eventually("lax gateway's /readyz says the feed is stale, still ready", func() bool {
		code, body := c.readyz(lax)
		return code == http.StatusOK && strings.Contains(body, "revocation feed stale")
	})
	c.accepted(lax, sg, tok)
	// Logged after the poll that finds the set stale (within an interval).
	c.eventually("the stale feed logged", func() bool {
		return strings.Contains(grepLines(c.log.String(), "instance=feed-strict"), "revocation feed stale")
	})
	px.Restore(t)
	c.eventually("strict gateway ready again", func() bool { code, _ := c.readyz(strict); return code == http.StatusOK })
	c.accepted(strict, sg, tok)
}

// TestRevocationLatency times revocations from the answer of /revoke at
// authorization server A to the first refusal at a gateway following B's
// feed, with the default poll interval (1 s): polling alone, and with the
// wake-ups A publishes through Redis. Each revocation comes at a random
// point of the poll cycle. Figures in docs/PERFORMANCE.md:
//
//	go test ./test/multiinstance -run '^TestRevocationLatency$' -revocation-samples 50 -v
func TestRevocationLatency(t *testing.T) {
	c := newCluster(t)
	for _, tc := range []struct {
		name     string
		pollOnly bool
	}{{"poll_only", true}, {"redis_wakeup", false}} {
		t.Run(tc.name, func(t *testing.T) {
			g := c.startGatewayFeed("timed-"+tc.name, c.redisAddr, c.as[1], feedOptions{hc: c.as[1].hc, interval: time.Second, pollOnly: tc.pollOnly})
			sg := c.newSigner()
			var ds []time.Duration
			for range *revocationSamples {
				tok := c.serviceToken(c.as[0], sg)
				c.accepted(g, sg, tok)
				time.Sleep(time.Duration(mrand.Int64N(int64(time.Second))))
				c.revoke(c.as[0], tok, svcClient, c.svcSecret)
				ds = append(ds, c.waitRevoked(g, sg, tok))
			}
			slices.Sort(ds)
			t.Logf("%s: revocation to refusal at the gateway over %d revocations (poll interval 1s): median %v, max %v",
				tc.name, len(ds), ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
		})
	}
}

// readyz returns a gateway's /readyz status and body.
func (c *cluster) readyz(g *gwInstance) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.adminURL+"/readyz", nil)
	r := do(c.t, http.DefaultClient, req)
	return r.Status, string(r.Body)
}

// eventually polls cond for up to 10 s.
func (c *cluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out: %s", what)
		}
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
