package authz

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/store"
)

// receiver is an RP's backchannel_logout_uri: it answers with the next
// of statuses (the last one repeated) and keeps every logout_token.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int
	tokens   []string
	bad      []string // requests not made as §2.5 says
}

func newReceiver(t testing.TB, statuses ...int) *receiver {
	rc := &receiver{statuses: statuses}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(body))
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || err != nil || len(form["logout_token"]) != 1 {
			rc.bad = append(rc.bad, r.Method+" "+r.Header.Get("Content-Type")+" "+string(body))
		}
		rc.tokens = append(rc.tokens, form.Get("logout_token"))
		status := rc.statuses[min(len(rc.tokens), len(rc.statuses))-1]
		if status == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) got() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		panic("receiver: malformed requests: " + strings.Join(rc.bad, "; "))
	}
	return append([]string(nil), rc.tokens...)
}

// backchannelHarness: client web sends its logout tokens to rc (with
// sid required); alice is signed in with a grant of web.
func backchannelHarness(t *testing.T, rc *receiver) (*harness, *browser, *store.Session) {
	h := logoutHarness(t)
	h.updateClient("web", func(c *store.Client) {
		c.BackchannelLogoutURI = rc.srv.URL + "/bc"
		c.BackchannelLogoutSessionRequired = true
	})
	b, sess := h.signedIn()
	h.sessionGrant("web", sess)
	return h, b, sess
}

// logout ends the browser's session through /end_session with a hint.
func (h *harness) logout(b *browser, sess *store.Session) {
	h.t.Helper()
	r := b.get(endSessionURL(h, url.Values{"id_token_hint": {h.idToken("web", sess, nil)}}))
	if r.status != http.StatusOK || h.sessionAlive(sess) {
		h.t.Fatalf("logout: %d alive=%v", r.status, h.sessionAlive(sess))
	}
}

func (h *harness) deliver() int {
	h.t.Helper()
	n, err := h.s.DeliverLogouts(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// verifyLogoutToken checks a logout token as an RP would (Back-Channel
// Logout 1.0 §2.6), with go-jose against the server's /jwks fetched over
// HTTP, and returns its claims.
func (h *harness) verifyLogoutToken(raw string) map[string]any {
	h.t.Helper()
	r := h.do(h.srv.Client(), mustReq(h.t.(*testing.T), h.issuer+PathJWKS))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &set); err != nil {
		h.t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		h.t.Fatal(err)
	}
	if typ := tok.Headers[0].ExtraHeaders[jose.HeaderType]; typ != "logout+jwt" {
		h.t.Errorf("typ %v, want logout+jwt", typ)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		h.t.Fatalf("kid %q not in /jwks", tok.Headers[0].KeyID)
	}
	var std jwt.Claims
	var cl map[string]any
	if err := tok.Claims(keys[0].Key, &std, &cl); err != nil {
		h.t.Fatalf("signature: %v", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: h.issuer, AnyAudience: jwt.Audience{"web"}, Time: h.clk.Now()}, 0); err != nil {
		h.t.Errorf("claims: %v", err)
	}
	if std.ID == "" || std.IssuedAt == nil || std.Expiry == nil || std.Expiry.Time().Sub(std.IssuedAt.Time()) > 2*time.Minute {
		h.t.Errorf("jti/iat/exp: %+v", std)
	}
	return cl
}

// TestBackchannelLogoutDelivered: a logout POSTs a logout token to the
// client's backchannel_logout_uri (§2.5) that an RP verifies against
// /jwks: typ logout+jwt, iss, aud, iat, exp, jti, the back-channel event
// with an empty object, sid (the client requires it) and sub, and no
// nonce (§2.4).
func TestBackchannelLogoutDelivered(t *testing.T) {
	rc := newReceiver(t, http.StatusOK)
	h, b, sess := backchannelHarness(t, rc)
	h.logout(b, sess)
	if n := h.deliver(); n != 1 {
		t.Fatalf("delivered %d, want 1", n)
	}
	toks := rc.got()
	if len(toks) != 1 {
		t.Fatalf("receiver got %d tokens", len(toks))
	}
	cl := h.verifyLogoutToken(toks[0])
	ev, _ := cl["events"].(map[string]any)
	if e, ok := ev[EventBackchannelLogout].(map[string]any); !ok || len(e) != 0 || len(ev) != 1 {
		t.Errorf("events = %v", cl["events"])
	}
	if cl["sid"] != sess.SID() || cl["sub"] != "u-alice" {
		t.Errorf("sid %v sub %v, want %s u-alice", cl["sid"], cl["sub"], sess.SID())
	}
	if _, ok := cl["nonce"]; ok {
		t.Error("logout token carries a nonce (§2.4 prohibits it)")
	}
	if h.outboxLen() != 0 || h.deliver() != 0 || len(rc.got()) != 1 {
		t.Error("a delivered logout is sent again")
	}
	if c := counters(t, h.s); c[`ward_authz_backchannel_logouts_total{outcome="delivered"}`] != 1 {
		t.Errorf("delivered counter %v", c[`ward_authz_backchannel_logouts_total{outcome="delivered"}`])
	}
}

// TestBackchannelLogoutRetried: a receiver failing twice (503, then 500)
// gets the token on the third attempt (answering 204, §2.8), each after its backoff and not before; every attempt
// signs a new token (new jti).
func TestBackchannelLogoutRetried(t *testing.T) {
	rc := newReceiver(t, http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusNoContent)
	h, b, sess := backchannelHarness(t, rc)
	h.logout(b, sess)
	bo := h.s.bc.opts
	for i, wait := range []time.Duration{0, bo.backoff(1), bo.backoff(2)} {
		if wait > 0 {
			h.clk.Advance(wait - time.Second)
			if n := h.deliver(); n != 0 {
				t.Fatalf("attempt %d sent before its backoff", i+1)
			}
			h.clk.Advance(time.Second)
		}
		if n := h.deliver(); n != 1 {
			t.Fatalf("attempt %d: %d sent", i+1, n)
		}
	}
	toks := rc.got()
	if len(toks) != 3 || toks[0] == toks[1] || toks[1] == toks[2] {
		t.Fatalf("receiver got %d tokens (distinct: %v)", len(toks), len(toks) == 3 && toks[0] != toks[1])
	}
	h.verifyLogoutToken(toks[2])
	c := counters(t, h.s)
	if c[`ward_authz_backchannel_logout_failures_total{reason="server_error"}`] != 2 || c[`ward_authz_backchannel_logouts_total{outcome="delivered"}`] != 1 {
		t.Errorf("counters: %v", c)
	}
	if h.outboxLen() != 0 {
		t.Error("delivered logout still queued")
	}
}

// TestBackchannelLogoutGivesUp: after BackchannelOptions.Attempts failed
// attempts the delivery is dropped, counted (failures by reason and
// given_up) and logged without the token; a 4xx (§2.8: the RP refused the
// token) and a redirect (never followed) are not retried.
func TestBackchannelLogoutGivesUp(t *testing.T) {
	rc := newReceiver(t, http.StatusBadGateway)
	h, b, sess := backchannelHarness(t, rc)
	h.s.bc.opts.Attempts = 3
	h.logout(b, sess)
	for i := 1; i <= 3; i++ {
		if n := h.deliver(); n != 1 {
			t.Fatalf("attempt %d: %d sent", i, n)
		}
		h.clk.Advance(h.s.bc.opts.MaxBackoff)
	}
	if n := h.deliver(); n != 0 || h.outboxLen() != 0 || len(rc.got()) != 3 {
		t.Fatalf("after 3 attempts: %d more sent, %d queued, %d received", n, h.outboxLen(), len(rc.got()))
	}
	c := counters(t, h.s)
	if c[`ward_authz_backchannel_logout_failures_total{reason="server_error"}`] != 3 || c[`ward_authz_backchannel_logouts_total{outcome="given_up"}`] != 1 {
		t.Errorf("counters: failures %v given_up %v", c[`ward_authz_backchannel_logout_failures_total{reason="server_error"}`],
			c[`ward_authz_backchannel_logouts_total{outcome="given_up"}`])
	}
	logs := h.log.String()
	if !strings.Contains(logs, "back-channel logout given up") || strings.Contains(logs, rc.got()[0]) || strings.Contains(logs, "eyJ") {
		t.Errorf("log: given-up line missing or token logged:\n%s", logs)
	}

	for status, reason := range map[int]string{http.StatusBadRequest: bcRejected, http.StatusFound: bcRedirect} {
		rc := newReceiver(t, status, http.StatusOK)
		h, b, sess := backchannelHarness(t, rc)
		h.logout(b, sess)
		h.deliver()
		h.clk.Advance(time.Hour)
		if n := h.deliver(); n != 0 || len(rc.got()) != 1 {
			t.Errorf("%d: retried (%d more, %d received)", status, n, len(rc.got()))
		}
		if c := counters(t, h.s); c[`ward_authz_backchannel_logout_failures_total{reason="`+reason+`"}`] != 1 {
			t.Errorf("%d: reason %s not counted", status, reason)
		}
	}
}

// TestBackchannelLogoutSurvivesRestart: the outbox is in the store: a
// logout whose instance stops before delivering is delivered by the next
// one; a claim whose claimant died is taken again when its lease ends.
func TestBackchannelLogoutSurvivesRestart(t *testing.T) {
	rc := newReceiver(t, http.StatusOK)
	h, b, sess := backchannelHarness(t, rc)
	h.logout(b, sess)
	// A claim taken and never finished: its claimant died.
	if ds, err := h.st.ClaimLogouts(t.Context(), "dead", h.clk.Now(), h.s.bc.opts.lease(), 10); err != nil || len(ds) != 1 {
		t.Fatalf("claim: %v %d", err, len(ds))
	}
	h.reopen()
	if n := h.deliver(); n != 0 {
		t.Fatal("delivered during another claim's lease")
	}
	h.clk.Advance(h.s.bc.opts.lease())
	if n := h.deliver(); n != 1 || len(rc.got()) != 1 {
		t.Fatalf("after restart: %d sent, %d received", n, len(rc.got()))
	}
	h.verifyLogoutToken(rc.got()[0])
}

// TestLogoutRevokesGrants: logging out revokes the session's grants of a
// client with logout_revokes_grants (its refresh token then fails) and
// keeps those of a client without (its refresh token still works), and
// never touches a grant of another session.
func TestLogoutRevokesGrants(t *testing.T) {
	h := logoutHarness(t)
	for _, id := range []string{"web", "post"} {
		h.updateClient(id, func(c *store.Client) {
			c.SenderConstraint = store.ConstraintBearer
			c.LogoutRevokesGrants = id == "web"
		})
	}
	b, sess := h.signedIn()
	h.sessionGrant("web", sess)
	h.sessionGrant("post", sess)
	_, other := h.signedIn()
	otherFam := h.sessionGrant("bearer", other)
	h.updateClient("bearer", func(c *store.Client) { c.LogoutRevokesGrants = true })
	h.logout(b, sess)
	if r := h.refresh("web", "rt-web", nil); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Errorf("web (logout_revokes_grants) refresh after logout: %d %s", r.status, r.body)
	}
	if r := h.refresh("post", "rt-post", nil); r.status != http.StatusOK {
		t.Errorf("post (keeps grants) refresh after logout: %d %s", r.status, r.body)
	}
	if h.familyRevoked(otherFam) {
		t.Error("another session's grant was revoked")
	}
}

// TestBackchannelURIAllowed: logout tokens go to https, or to http on a
// loopback IP literal only (§2.2; docs/OIDC.md).
func TestBackchannelURIAllowed(t *testing.T) {
	for u, want := range map[string]bool{
		"https://rp.example/bc": true, "http://127.0.0.1:8080/bc": true, "http://[::1]/bc": true,
		"http://rp.example/bc": false, "http://localhost/bc": false, "http://127.0.0.1.evil.example/bc": false,
		"https://rp.example/bc#f": false, "https://u:p@rp.example/bc": false, "/bc": false, "ftp://rp.example/": false,
		"http://10.0.0.1/bc": false, "": false,
	} {
		if got := backchannelURIAllowed(u); got != want {
			t.Errorf("backchannelURIAllowed(%q) = %v", u, got)
		}
	}
}

// TestBackchannelLogoutRunDelivers: Server.Run delivers a logout's tokens
// at once (the logout wakes it), without waiting for its interval.
func TestBackchannelLogoutRunDelivers(t *testing.T) {
	rc := newReceiver(t, http.StatusOK)
	h, b, sess := backchannelHarness(t, rc)
	h.s.bc.opts.Interval = time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.s.Run(ctx) }()
	h.logout(b, sess)
	deadline := time.Now().Add(10 * time.Second)
	for len(rc.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(rc.got()) != 1 {
		t.Fatalf("Run delivered %d tokens within 10 s, want 1", len(rc.got()))
	}
}

// TestEndUserSessions: an administrator ending a user's sessions (ward
// user logout) does what a logout of each does: every live session of
// the user ends, back-channel logout is queued for each (one token per
// session, its own sid) and delivered by the server from the store, and
// the grants of clients with logout_revokes_grants are revoked; another
// user's session is untouched.
func TestEndUserSessions(t *testing.T) {
	rc := newReceiver(t, http.StatusOK)
	h, _, s1 := backchannelHarness(t, rc)
	h.updateClient("web", func(c *store.Client) { c.LogoutRevokesGrants = true })
	h.updateClient("post", func(c *store.Client) { c.BackchannelLogoutURI = rc.srv.URL + "/post" })
	_, s2 := h.signedIn()
	fam := h.sessionGrant("post", s2)
	now := h.clk.Now()
	bob := &store.Session{Hash: hashToken("bob's cookie"), Subject: "u-bob", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := h.st.PutSession(t.Context(), bob); err != nil {
		t.Fatal(err)
	}
	n, err := EndUserSessions(t.Context(), h.st, "u-alice", now)
	if err != nil || n != 2 {
		t.Fatalf("EndUserSessions: %d %v, want 2 sessions", n, err)
	}
	if h.sessionAlive(s1) || h.sessionAlive(s2) || !h.sessionAlive(bob) {
		t.Fatalf("alive after: alice %v %v, bob %v", h.sessionAlive(s1), h.sessionAlive(s2), h.sessionAlive(bob))
	}
	if r := h.refresh("web", "rt-web", nil); r.str("error") != "invalid_grant" {
		t.Errorf("web grant survived: %d %s", r.status, r.body)
	}
	if h.familyRevoked(fam) {
		t.Error("post (keeps grants) was revoked")
	}
	if n := h.deliver(); n != 2 {
		t.Fatalf("delivered %d, want 2", n)
	}
	sids := map[any]bool{}
	for _, tok := range rc.got() {
		_, cl := decodeJWT(t, tok)
		sids[cl["sid"]] = true
	}
	if !sids[s1.SID()] || !sids[s2.SID()] {
		t.Errorf("sids %v, want %s and %s", sids, s1.SID(), s2.SID())
	}
}

// TestBackchannelLogoutTimeout: an attempt is bounded by
// BackchannelOptions.Timeout; a receiver that does not answer in time
// counts as a timeout and is retried later.
func TestBackchannelLogoutTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })
	rc := newReceiver(t, http.StatusOK)
	h, b, sess := backchannelHarness(t, rc)
	h.updateClient("web", func(c *store.Client) { c.BackchannelLogoutURI = slow.URL + "/bc" })
	h.s.bc.opts.Timeout = 200 * time.Millisecond
	h.logout(b, sess)
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second) // a broken bound fails, not hangs
	defer cancel()
	if n, err := h.s.DeliverLogouts(ctx); n != 1 || err != nil {
		t.Fatalf("attempted %d: %v", n, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the attempt took %v, beyond its timeout", d)
	}
	if c := counters(t, h.s); c[`ward_authz_backchannel_logout_failures_total{reason="timeout"}`] != 1 {
		t.Errorf("timeout not counted: %v", c[`ward_authz_backchannel_logout_failures_total{reason="timeout"}`])
	}
	if h.outboxLen() != 1 {
		t.Error("a timed-out delivery was dropped instead of retried")
	}
}
