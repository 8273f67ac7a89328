package multiinstance

import (
	"net/http"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/redistest"
	"github.com/wardauth/ward/store/redisstore"
)

// withDeployment makes every instance reach Redis through d.
func withDeployment(d redisstore.Deployment) clusterOpt {
	return func(c *cluster, _ int) string {
		c.deploy = &d
		return c.redisAddr
	}
}

// TestGatewayThroughRedisFailover: two gateways on a Sentinel group,
// under a steady load of calls with fresh proofs while the master is
// killed. Every answer is 200 or 503 (fail closed: never a proof
// accepted unchecked, never a false replay), some are 503, and the
// gateways answer 200 again without a restart.
func TestGatewayThroughRedisFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a Redis master")
	}
	g := redistest.StartSentinel(t)
	c := newCluster(t, withDeployment(redisstore.Deployment{SentinelMaster: redistest.MasterName, SentinelAddrs: g.SentinelAddrs()}))
	sg := c.newSigner()
	tok := c.serviceToken(c.as[0], sg)
	counts := map[int]int{}
	var killed, firstFail, lastFail time.Time
	deadline := time.Now().Add(30 * time.Second)
	for n := 0; time.Now().Before(deadline); n++ {
		if n == 20 {
			g.Master(t).Kill()
			killed = time.Now()
		}
		r := c.call(c.gw[n%2], whoami, tok, c.apiProof(sg, whoami, tok))
		counts[r.Status]++
		switch r.Status {
		case http.StatusOK:
		case http.StatusServiceUnavailable:
			if firstFail.IsZero() {
				firstFail = time.Now()
			}
			lastFail = time.Now()
		default:
			t.Fatalf("call %d: %v, want 200 or 503", n, r)
		}
		if !lastFail.IsZero() && time.Since(lastFail) > time.Second && counts[http.StatusOK] > 20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if counts[http.StatusServiceUnavailable] == 0 || lastFail.IsZero() || time.Since(lastFail) < time.Second {
		t.Fatalf("answers %v: want some 503s, then 200s again", counts)
	}
	t.Logf("answers %v; 503 from %v to %v after the kill", counts, firstFail.Sub(killed).Round(time.Millisecond), lastFail.Sub(killed).Round(time.Millisecond))
}
