package multiinstance

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/oauth"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/clustertest"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/store"
)

// TestProofReplayAcrossGateways: a token from server A works at both
// gateways; a proof used at gateway A is refused at gateway B as
// replayed (RFC 9449 §11.1), and the refusal is counted under that reason.
func TestProofReplayAcrossGateways(t *testing.T) {
	c := newCluster(t)
	sg := c.newSigner()
	tok := c.serviceToken(c.as[0], sg)

	p := c.apiProof(sg, whoami, tok)
	if r := c.call(c.gw[0], whoami, tok, p); r.Status != http.StatusOK {
		t.Fatalf("gateway A: %v", r)
	}
	r := c.call(c.gw[1], whoami, tok, p)
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_dpop_proof"`) {
		t.Fatalf("proof replayed at gateway B: %v %v, want 401 invalid_dpop_proof", r, r.Header.Values("WWW-Authenticate"))
	}
	if got := c.rejections(c.gw[1])["replayed"]; got != 1 {
		t.Errorf("gateway B rejections{reason=replayed} = %v, want 1", got)
	}
	// A fresh proof is accepted at B: the token (signed by A's key, from
	// the shared store) is valid there.
	if r := c.call(c.gw[1], whoami, tok, c.apiProof(sg, whoami, tok)); r.Status != http.StatusOK {
		t.Fatalf("fresh proof at gateway B: %v", r)
	}
}

// TestProofReplayAcrossServers: a token request's proof used at server A
// is refused at server B; a nonce issued by A is accepted by B (shared
// nonce secret).
func TestProofReplayAcrossServers(t *testing.T) {
	c := newCluster(t)
	sg := c.newSigner()
	form := url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}
	c.fetchNonce(c.as[0])
	p := c.tokenProof(sg) // carries A's nonce
	wantToken(t, c.postToken(c.as[0], form, p))
	r := c.postToken(c.as[1], form, p)
	wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
	if !strings.Contains(r.Str("error_description"), "used before") {
		t.Errorf("replay at B: %v, want the replayed description", r)
	}
	// B accepts a fresh proof with the nonce A issued.
	c.fetchNonce(c.as[0])
	wantToken(t, c.postToken(c.as[1], form, c.tokenProof(sg)))
}

// authorize runs the browser flow for the public client web: /authorize
// at start, the login form posted at login, the consent at consent. It
// returns the code and the PKCE verifier.
func (c *cluster) authorize(b *browser, start, login, consent *asInstance) (string, string) {
	c.t.Helper()
	u, v := c.flow.AuthorizeURL()
	r := b.get(start, u)
	if isLoginPage(r) {
		r = b.login(login, r)
	}
	if isConsentPage(r) {
		r = b.consent(consent, r)
	}
	return c.flow.CodeFrom(r), v
}

func codeForm(code, verifier string) url.Values {
	return clustertest.CodeForm(webClient, webRedirect, code, verifier)
}

func refreshForm(rt string) url.Values { return clustertest.RefreshForm(webClient, rt) }

// TestLoginAcrossInstances: an authorization started at A, whose login
// form is posted to B and consent to A, ends with a code that B redeems:
// the flow state sealed by one instance opens at the other with the shared
// flow key. An instance with a key of its own (a process that was started
// without WARD_FLOW_KEY) refuses the same login form.
func TestLoginAcrossInstances(t *testing.T) {
	c := newCluster(t)
	sg := c.newSigner()
	code, v := c.authorize(c.newBrowser(), c.as[0], c.as[1], c.as[0])
	r := c.token(c.as[1], codeForm(code, v), sg)
	wantToken(t, r)
	if r.Str("refresh_token") == "" {
		t.Fatalf("no refresh token: %v", r)
	}

	other := c.startAS("C", c.redisAddr, random(32))
	b := c.newBrowser()
	q := url.Values{"response_type": {"code"}, "client_id": {webClient}, "redirect_uri": {webRedirect},
		"scope": {"demo:read"}, "state": {"st"}, "code_challenge": {pkce.Challenge(v)}, "code_challenge_method": {"S256"}}
	page := b.get(c.as[0], issuer+authz.PathAuthorize+"?"+q.Encode())
	got := b.login(other, page)
	if got.Status != http.StatusBadRequest || isConsentPage(got) {
		t.Fatalf("a login form sealed with another flow key: %d, want 400 (refused)", got.Status)
	}
}

// TestCodeReplayAcrossServers: a code redeemed at A and replayed at B
// fails, and the tokens issued from it are revoked everywhere (RFC 9700
// §4.5).
func TestCodeReplayAcrossServers(t *testing.T) {
	c := newCluster(t)
	sg := c.newSigner()
	code, v := c.authorize(c.newBrowser(), c.as[0], c.as[0], c.as[0])
	r := c.token(c.as[0], codeForm(code, v), sg)
	wantToken(t, r)
	at, rt := r.Str("access_token"), r.Str("refresh_token")
	if in := c.introspect(c.as[1], at); in.JSON["active"] != true {
		t.Fatalf("fresh token inactive at B: %v", in)
	}
	wantError(t, c.token(c.as[1], codeForm(code, v), sg), http.StatusBadRequest, "invalid_grant")
	for i, in := range c.as {
		if r := c.introspect(in, at); r.JSON["active"] != false {
			t.Errorf("access token still active at %s after the code replay: %v", c.as[i].name, r)
		}
	}
	wantError(t, c.token(c.as[0], refreshForm(rt), sg), http.StatusBadRequest, "invalid_grant")
}

// TestRefreshReplayAcrossServers: a refresh token rotated at A, whose
// successor was then used at B, replayed at B revokes the family: the
// newest token stops working at both (RFC 9700 §4.14.2), and the reuse is
// logged. (Replayed at once with the key, while its successor is unused,
// it is a retry within refresh_token_reuse_grace: TestRefreshGraceAcrossServers.)
func TestRefreshReplayAcrossServers(t *testing.T) {
	c := newCluster(t)
	sg := c.newSigner()
	code, v := c.authorize(c.newBrowser(), c.as[0], c.as[0], c.as[0])
	r := c.token(c.as[0], codeForm(code, v), sg)
	wantToken(t, r)
	rt1 := r.Str("refresh_token")
	r2 := c.token(c.as[0], refreshForm(rt1), sg)
	wantToken(t, r2)
	r3 := c.token(c.as[1], refreshForm(r2.Str("refresh_token")), sg)
	wantToken(t, r3)
	rt3, at3 := r3.Str("refresh_token"), r3.Str("access_token")

	wantError(t, c.token(c.as[1], refreshForm(rt1), sg), http.StatusBadRequest, "invalid_grant")
	for _, in := range c.as {
		wantError(t, c.token(in, refreshForm(rt3), sg), http.StatusBadRequest, "invalid_grant")
		if r := c.introspect(in, at3); r.JSON["active"] != false {
			t.Errorf("access token of the revoked family active at %s: %v", in.name, r)
		}
	}
	if log := c.log.String(); !strings.Contains(log, "likely theft") || !strings.Contains(log, "instance=as-B") {
		t.Errorf("the reuse at B was not logged as theft by B:\n%s", log)
	}
}

// TestRefreshGraceAcrossServers: the answer of a rotation at A is lost;
// the client presents the rotated token again at B with its DPoP key
// within refresh_token_reuse_grace and gets a new pair, the unused
// successor dies; retries racing at A and B leave exactly one live token;
// a thief presenting the rotated token with another key at B revokes the
// family everywhere.
func TestRefreshGraceAcrossServers(t *testing.T) {
	c := newCluster(t)
	sg := c.newSigner()
	code, v := c.authorize(c.newBrowser(), c.as[0], c.as[0], c.as[0])
	r := c.token(c.as[0], codeForm(code, v), sg)
	wantToken(t, r)
	rt1 := r.Str("refresh_token")
	lost := c.token(c.as[0], refreshForm(rt1), sg)
	wantToken(t, lost)

	retry := c.token(c.as[1], refreshForm(rt1), sg)
	wantToken(t, retry)
	live := func() int {
		n := 0
		for _, tok := range []string{lost.Str("refresh_token"), retry.Str("refresh_token")} {
			if c.refreshLive(tok) {
				n++
			}
		}
		return n
	}
	if c.refreshLive(lost.Str("refresh_token")) || !c.refreshLive(retry.Str("refresh_token")) {
		t.Fatal("after the retry at B: the lost successor must be dead and the new one live")
	}
	if log := c.log.String(); !strings.Contains(log, "lost answer") || !strings.Contains(log, "instance=as-B") || strings.Contains(log, "likely theft") {
		t.Errorf("the retry at B was not logged as a lost answer by B:\n%s", log)
	}
	if live() != 1 {
		t.Fatal("not exactly one live refresh token")
	}

	// Retries racing at A and B: exactly one live token is left.
	got := c.raceRefresh(rt1, sg, 8)
	n, answered := 0, 0
	for _, tok := range append(got, retry.Str("refresh_token")) {
		if tok != "" {
			answered++
		}
		if tok != "" && c.refreshLive(tok) {
			n++
		}
	}
	if n != 1 || answered < 2 {
		t.Fatalf("%d live refresh tokens after racing retries at A and B (%d answered with one), want 1", n, answered)
	}
	t.Logf("%d of 8 racing retries got a new pair; 1 live token left", answered-1)

	// A thief with the rotated token and another key, at B.
	wantError(t, c.token(c.as[1], refreshForm(rt1), c.newSigner()), http.StatusBadRequest, "invalid_grant")
	for _, tok := range append(got, retry.Str("refresh_token")) {
		if tok != "" {
			for _, in := range c.as {
				wantError(t, c.token(in, refreshForm(tok), sg), http.StatusBadRequest, "invalid_grant")
			}
		}
	}
}

// TestClientCreatedAtOneInstance: a client created through A's store (as
// `ward client create` would) gets tokens at B, accepted by gateway B.
func TestClientCreatedAtOneInstance(t *testing.T) {
	c := newCluster(t)
	sg := c.newSigner()
	// B has served svc already: its client cache must not hide a new one.
	c.serviceToken(c.as[1], sg)
	cl := store.Client{ID: "late", AuthMethod: oauth.AuthSecretBasic, GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials},
		Scopes: []string{"demo:read"}, Audiences: []string{apiURL}, SenderConstraint: store.ConstraintDPoP}
	secret, err := authz.CreateClient(context.Background(), c.as[0].st, &cl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, issuer+authz.PathToken,
		strings.NewReader(url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("late", secret)
	req.Header.Set("DPoP", c.tokenProof(sg))
	r := do(t, c.as[1].hc, req)
	wantToken(t, r)
	tok := r.Str("access_token")
	if r := c.call(c.gw[1], whoami, tok, c.apiProof(sg, whoami, tok)); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"late"`) {
		t.Fatalf("gateway B with the new client's token: %v", r)
	}
}

// TestKeyRotationPublishedByBoth: a signing key rotated through A is
// published by B within its key-maintenance interval (authz.Options
// KeysInterval, here 100 ms): verifiers that fetch the JWKS from any
// instance learn it before it signs.
func TestKeyRotationPublishedByBoth(t *testing.T) {
	c := newCluster(t)
	k, err := c.as[0].km.Rotate(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, issuer+authz.PathJWKS, nil)
		r := do(t, c.as[1].hc, req)
		var set struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		_ = json.Unmarshal(r.Body, &set)
		found := false
		for _, key := range set.Keys {
			found = found || key.Kid == k.ID
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B does not publish the key %s rotated at A: %s", k.ID, r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedisOutageFailsClosed: with Redis unreachable for instance B
// (server and gateway), every request needing a replay check is refused
// there with 503, never accepted unchecked, while A keeps working. When
// Redis is back, B serves again and still refuses proofs A saw during the
// outage.
func TestRedisOutageFailsClosed(t *testing.T) {
	var proxy *redisProxy
	c := newCluster(t, throughProxy(&proxy))
	sg := c.newSigner()
	tok := c.serviceToken(c.as[0], sg)
	form := url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}

	proxy.stop()
	start := time.Now()
	r := c.call(c.gw[1], whoami, tok, c.apiProof(sg, whoami, tok))
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("gateway B with Redis down: %v, want 503", r)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gateway B took %v to refuse; the Redis timeouts should bound it well under a second", d)
	}
	if got := c.rejections(c.gw[1])["replay_store_error"]; got != 1 {
		t.Errorf("gateway B rejections{reason=replay_store_error} = %v, want 1", got)
	}
	c.fetchNonce(c.as[1])
	wantError(t, c.postToken(c.as[1], form, c.tokenProof(sg)), http.StatusServiceUnavailable, "temporarily_unavailable")
	if n := c.as[1].rs.Stats().Errors; n == 0 || c.as[1].rs.Stats().AcceptedUnchecked != 0 {
		t.Errorf("AS B Redis stats %+v, want errors and nothing accepted unchecked", c.as[1].rs.Stats())
	}
	if !strings.Contains(c.log.String(), "Redis unreachable; refusing (fail closed)") {
		t.Error("the outage was not logged")
	}

	// A is unaffected, and records what it sees.
	seen := c.apiProof(sg, whoami, tok)
	if r := c.call(c.gw[0], whoami, tok, seen); r.Status != http.StatusOK {
		t.Fatalf("gateway A during B's outage: %v", r)
	}
	wantToken(t, c.token(c.as[0], form, sg))

	proxy.start()
	var last *response
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if last = c.call(c.gw[1], whoami, tok, c.apiProof(sg, whoami, tok)); last.Status == http.StatusOK {
			break
		}
	}
	if last.Status != http.StatusOK {
		t.Fatalf("gateway B after Redis came back: %v", last)
	}
	if r := c.call(c.gw[1], whoami, tok, seen); r.Status != http.StatusUnauthorized {
		t.Fatalf("proof used at A during the outage, replayed at B after: %v, want 401", r)
	}
	wantToken(t, c.token(c.as[1], form, sg))
}

// TestRedisPauseNeverReportsReplay: Redis pauses for B for 110-190 ms,
// longer than the 100 ms read timeout, while a fresh proof is checked at
// gateway B or token endpoint B: the replay check runs on Redis, its
// answer comes late, and go-redis sends it again. The answer is the token
// or the API's (200) or "try again" (503), never "this proof was used
// before" (401/400), and nothing is counted as a replay; a proof really
// replayed afterwards is still refused.
func TestRedisPauseNeverReportsReplay(t *testing.T) {
	var proxy *wardtest.Proxy
	c := newCluster(t, throughPausable(&proxy))
	sg := c.newSigner()
	tok := c.serviceToken(c.as[0], sg)
	form := url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}
	c.fetchNonce(c.as[1])
	fresh := func(r *response, where string, pause time.Duration) {
		t.Helper()
		if r.Status != http.StatusOK && r.Status != http.StatusServiceUnavailable {
			t.Fatalf("%s, fresh proof, Redis paused %v: %v, want 200 or 503", where, pause, r)
		}
	}
	pauses := []time.Duration{110 * time.Millisecond, 150 * time.Millisecond, 190 * time.Millisecond}
	for i := range 9 {
		pause := pauses[i%len(pauses)]
		// Each pause starts with B's connection open, so that the
		// command, not the dial, meets it.
		if r := c.call(c.gw[1], whoami, tok, c.apiProof(sg, whoami, tok)); r.Status != http.StatusOK {
			t.Fatalf("gateway B between pauses: %v", r)
		}
		proxy.Pause(pause)
		fresh(c.call(c.gw[1], whoami, tok, c.apiProof(sg, whoami, tok)), "gateway B", pause)
		time.Sleep(pause)
		wantToken(t, c.token(c.as[1], form, sg))
		proxy.Pause(pause)
		fresh(c.token(c.as[1], form, sg), "token endpoint B", pause)
		time.Sleep(pause)
	}
	if got := c.rejections(c.gw[1])[string(dpop.ReasonReplayed)]; got != 0 {
		t.Errorf("gateway B counted %v replays of fresh proofs", got)
	}
	p := c.apiProof(sg, whoami, tok)
	if r := c.call(c.gw[1], whoami, tok, p); r.Status != http.StatusOK {
		t.Fatalf("gateway B after the pauses: %v", r)
	}
	if r := c.call(c.gw[1], whoami, tok, p); r.Status != http.StatusUnauthorized {
		t.Fatalf("proof replayed at B: %v, want 401", r)
	}
}

// TestRedisSilentRefusalsBounded: Redis stops answering instance B (its
// connections stay open, nothing comes back) while 256 requests with
// fresh proofs reach gateway B at once, more than B's Redis pool has
// connections. Each is refused with 503 within half a second, measured at
// the client: the 200 ms Redis budget (redisstore.Budget) plus the
// proofs' verification and the sockets on a loaded 2-core machine.
func TestRedisSilentRefusalsBounded(t *testing.T) {
	const requests = 256
	bound := 500 * time.Millisecond
	if wardtest.Race {
		bound *= 2
	}
	var proxy *wardtest.Proxy
	c := newCluster(t, throughPausable(&proxy))
	sg := c.newSigner()
	tok := c.serviceToken(c.as[0], sg)
	proofs := make([]string, requests)
	for i := range proofs {
		proofs[i] = c.apiProof(sg, whoami, tok)
	}
	if r := c.call(c.gw[1], whoami, tok, c.apiProof(sg, whoami, tok)); r.Status != http.StatusOK {
		t.Fatalf("gateway B before the outage: %v", r)
	}
	proxy.Pause(time.Hour)
	took := make([]time.Duration, requests)
	status := make([]int, requests)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, apiURL+whoami, nil)
			req.Header.Set("Authorization", "DPoP "+tok)
			req.Header.Set("DPoP", proofs[i])
			<-start
			t0 := time.Now()
			resp, err := c.gw[1].hc.Do(req)
			took[i] = time.Since(t0)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			resp.Body.Close()
			status[i] = resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	slowest := time.Duration(0)
	for i := range requests {
		if status[i] != http.StatusServiceUnavailable {
			t.Fatalf("request %d with Redis silent: %d, want 503", i, status[i])
		}
		slowest = max(slowest, took[i])
	}
	t.Logf("slowest of %d refusals: %v", requests, slowest)
	if slowest > bound {
		t.Fatalf("slowest of %d concurrent refusals took %v, want at most %v", requests, slowest, bound)
	}
}

// TestScaleoutExampleLoads: ward.scaleout.example.yaml at the repository
// root loads and validates, with PostgreSQL and Redis on, fail closed.
func TestScaleoutExampleLoads(t *testing.T) {
	path := filepath.Join("..", "..", "ward.scaleout.example.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	if err := cfg.Decode(path, data); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		config.EnvStoreDSN:           "postgres://ward:secret@db.internal:5432/ward?sslmode=verify-full",
		config.EnvRedisURL:           "rediss://ward:secret@redis.internal:6380/0",
		config.EnvKeyEncryptionKey:   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		config.EnvDPoPNonceSecret:    "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=",
		"WARD_CLIENT_BILLING_SECRET": "billing-secret",
	}
	if err := cfg.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Driver != "postgres" || !cfg.Redis.Enabled() || cfg.Redis.FailOpen || !cfg.Redis.TLS.Enabled ||
		cfg.Redis.Password != "secret" || !cfg.DPoP.Nonce.Enabled || !cfg.Gateway.Enabled {
		t.Errorf("example: store %+v redis %+v nonce %v gateway %v", cfg.Store, cfg.Redis, cfg.DPoP.Nonce.Enabled, cfg.Gateway.Enabled)
	}
}
