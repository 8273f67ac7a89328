package multiprocess

import (
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/oauth"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/internal/clustertest"
	"github.com/wardauth/ward/internal/wardtest"
)

// TestProcesses starts the processes once and runs each scenario on them;
// the Redis outage comes last.
func TestProcesses(t *testing.T) {
	c := newCluster(t)
	steps := []struct {
		name string
		f    func(t *testing.T, c *cluster)
	}{
		{"ProofReplayAcrossGateways", proofReplayAcrossGateways},
		{"RefreshReplayAcrossServers", refreshReplayAcrossServers},
		{"CodeReplayAcrossServers", codeReplayAcrossServers},
		{"RateLimitsAddUpAcrossGateways", rateLimitsAddUp},
		{"KeyRotationPublishedByBoth", keyRotationPublishedByBoth},
		{"RevokedTokenRefusedAtGateways", revokedTokenRefusedAtGateways},
		{"RedisOutageFailsClosed", redisOutageFailsClosed},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { c.t = t; s.f(t, c) }) {
			return
		}
	}
}

// proofReplayAcrossGateways: a token from server A works at gateway A; the
// same proof sent to gateway B is refused as replayed (RFC 9449 §11.1).
func proofReplayAcrossGateways(t *testing.T, c *cluster) {
	sg := c.newSigner()
	tok := c.serviceToken("A", sg)
	p := c.apiProof(sg, "/api/x", tok)
	if r := c.call("A", "/api/x", tok, p); r.Status != http.StatusOK || r.Str("client") != svcClient {
		t.Fatalf("gateway A: %v", r)
	}
	r := c.call("B", "/api/x", tok, p)
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_dpop_proof"`) {
		t.Fatalf("proof replayed at gateway B: %v %v, want 401 invalid_dpop_proof", r, r.Header.Values("WWW-Authenticate"))
	}
	if got := c.rejections("B")["replayed"]; got != 1 {
		t.Errorf("gateway B rejections{reason=replayed} = %v, want 1", got)
	}
	if r := c.call("B", "/api/x", tok, c.apiProof(sg, "/api/x", tok)); r.Status != http.StatusOK {
		t.Fatalf("fresh proof at gateway B: %v", r)
	}
}

// authorize runs the browser flow for the public client web at server
// and returns the code and the PKCE verifier.
func (c *cluster) authorize(server string) (string, string) {
	c.t.Helper()
	u, v := c.flow.AuthorizeURL()
	send, b := c.to(server), c.flow.NewBrowser()
	r := b.Login(send, b.Get(send, u))
	if isConsentPage(r) { // else consent given in an earlier step is remembered
		r = b.Consent(send, r)
	}
	return c.flow.CodeFrom(r), v
}

func codeForm(code, verifier string) url.Values {
	return clustertest.CodeForm(webClient, webRedirect, code, verifier)
}

func refreshForm(rt string) url.Values { return clustertest.RefreshForm(webClient, rt) }

// refreshReplayAcrossServers: a refresh token rotated at A, whose
// successor was used at B, replayed at B revokes the family: the newest
// token stops working at both (RFC 9700 §4.14.2).
func refreshReplayAcrossServers(t *testing.T, c *cluster) {
	sg := c.newSigner()
	code, v := c.authorize("A")
	r := c.token("A", codeForm(code, v), sg)
	wantToken(t, r)
	rt1 := r.Str("refresh_token")
	r1 := c.token("A", refreshForm(rt1), sg)
	wantToken(t, r1)
	// The successor is used (at B), so replaying rt1 with the key is no
	// retry within refresh_token_reuse_grace: it is a reuse.
	r2 := c.token("B", refreshForm(r1.Str("refresh_token")), sg)
	wantToken(t, r2)
	rt2, at2 := r2.Str("refresh_token"), r2.Str("access_token")

	wantError(t, c.token("B", refreshForm(rt1), sg), http.StatusBadRequest, "invalid_grant")
	for _, s := range []string{"A", "B"} {
		wantError(t, c.token(s, refreshForm(rt2), sg), http.StatusBadRequest, "invalid_grant")
		if r := c.introspect(s, at2); r.JSON["active"] != false {
			t.Errorf("access token of the revoked family active at %s: %v", s, r)
		}
	}
	if !strings.Contains(c.as["B"].Output(), "likely theft") {
		t.Errorf("the reuse at B was not logged by B as theft")
	}
}

// codeReplayAcrossServers: a code redeemed at A fails at B, and the tokens
// issued from it are revoked (RFC 9700 §4.5).
func codeReplayAcrossServers(t *testing.T, c *cluster) {
	sg := c.newSigner()
	code, v := c.authorize("B")
	r := c.token("A", codeForm(code, v), sg)
	wantToken(t, r)
	at := r.Str("access_token")
	wantError(t, c.token("B", codeForm(code, v), sg), http.StatusBadRequest, "invalid_grant")
	for _, s := range []string{"A", "B"} {
		if r := c.introspect(s, at); r.JSON["active"] != false {
			t.Errorf("access token still active at %s after the code replay: %v", s, r)
		}
	}
}

// rateLimitsAddUp: route metered allows meteredLimit requests a minute per
// client; 3 at gateway A and 2 at gateway B use them up, so the next, at
// either gateway, is refused with 429 and Retry-After: the count is in
// Redis, not per process.
func rateLimitsAddUp(t *testing.T, c *cluster) {
	sg := c.newSigner()
	tok := c.serviceToken("A", sg)
	for i, gw := range []string{"A", "A", "A", "B", "B"} {
		if r := c.call(gw, "/metered/x", tok, c.apiProof(sg, "/metered/x", tok)); r.Status != http.StatusOK {
			t.Fatalf("request %d at gateway %s: %v, want 200", i+1, gw, r)
		}
	}
	for _, gw := range []string{"B", "A"} {
		r := c.call(gw, "/metered/x", tok, c.apiProof(sg, "/metered/x", tok))
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("request %d (at gateway %s): %v %v, want 429 with Retry-After", meteredLimit+1, gw, r, r.Header)
		}
	}
	// Another route counts apart.
	if r := c.call("B", "/api/x", tok, c.apiProof(sg, "/api/x", tok)); r.Status != http.StatusOK {
		t.Fatalf("route api after metered is spent: %v", r)
	}
}

// keyRotationPublishedByBoth: `ward keys rotate --config` run as its own
// process against the shared database publishes a new key, which both
// servers serve in their JWKS within keys.refresh_interval.
func keyRotationPublishedByBoth(t *testing.T, c *cluster) {
	before := c.jwksKids("A")
	cmd := exec.Command(c.bin, "keys", "rotate", "--config", c.dir+"/as-A.yaml")
	cmd.Env = append(wardtest.CleanEnv(), c.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ward keys rotate: %v\n%s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var fresh []string
		a, b := c.jwksKids("A"), c.jwksKids("B")
		for kid := range a {
			if !before[kid] && b[kid] {
				fresh = append(fresh, kid)
			}
		}
		if len(fresh) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after `ward keys rotate` (%s): A publishes %v, B %v (before %v)", strings.TrimSpace(string(out)), a, b, before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// redisOutageFailsClosed: with Redis killed, requests that need a replay
// check or a shared rate limit are refused with 503 at the gateways and
// the servers, quickly, never accepted unchecked; when Redis is started
// again, service resumes without restarting any process.
func redisOutageFailsClosed(t *testing.T, c *cluster) {
	sg := c.newSigner()
	tok := c.serviceToken("A", sg)
	form := url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}

	c.redis.stop()
	for _, gw := range []string{"A", "B"} {
		start := time.Now()
		r := c.call(gw, "/api/x", tok, c.apiProof(sg, "/api/x", tok))
		if r.Status != http.StatusServiceUnavailable {
			t.Fatalf("gateway %s with Redis down: %v, want 503", gw, r)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("gateway %s took %v to refuse; the Redis timeouts should bound it well under a second", gw, d)
		}
	}
	for _, s := range []string{"A", "B"} {
		r := c.token(s, form, sg)
		wantError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
	}

	c.redis.start()
	for _, gw := range []string{"A", "B"} {
		var last *response
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if last = c.call(gw, "/api/x", tok, c.apiProof(sg, "/api/x", tok)); last.Status == http.StatusOK {
				break
			}
		}
		if last.Status != http.StatusOK {
			t.Fatalf("gateway %s after Redis came back: %v", gw, last)
		}
	}
	for _, s := range []string{"A", "B"} {
		wantToken(t, c.token(s, form, sg))
	}
}

// revokedTokenRefusedAtGateways: a token revoked at server B (RFC 7009)
// is refused by both gateway processes, which read the revocation feed
// from the authorization servers and are woken through Redis, within a
// generous bound (it takes milliseconds), with reason revoked.
func revokedTokenRefusedAtGateways(t *testing.T, c *cluster) {
	sg := c.newSigner()
	tok := c.serviceToken("A", sg)
	for _, gw := range []string{"A", "B"} {
		if r := c.call(gw, "/api/x", tok, c.apiProof(sg, "/api/x", tok)); r.Status != http.StatusOK {
			t.Fatalf("gateway %s before the revocation: %v", gw, r)
		}
	}
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, _ := http.NewRequest(http.MethodPost, c.asLB.url+authz.PathRevoke, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(svcClient, svcSecret)
	if r := c.do(req, "B", nil); r.Status != http.StatusOK {
		t.Fatalf("revoke at B: %v", r)
	}
	revoked := time.Now()
	for _, gw := range []string{"A", "B"} {
		for {
			r := c.call(gw, "/api/x", tok, c.apiProof(sg, "/api/x", tok))
			if r.Status == http.StatusUnauthorized && strings.Contains(r.Header.Get("WWW-Authenticate"), "revoked") {
				t.Logf("gateway %s refuses the token %v after its revocation", gw, time.Since(revoked).Round(time.Millisecond))
				break
			}
			if r.Status != http.StatusOK || time.Since(revoked) > 5*time.Second {
				t.Fatalf("gateway %s %v after the revocation: %v", gw, time.Since(revoked), r)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if got := c.rejections(gw)["revoked"]; got != 1 {
			t.Errorf("gateway %s rejections{reason=revoked} = %v, want 1", gw, got)
		}
	}
}
