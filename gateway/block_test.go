package gateway_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/secevent"
)

// blockPolicy is a small threshold so the tests stay short: 5 offences a
// minute block for 1 minute, doubling up to 4.
var blockPolicy = block.Policy{Threshold: 5, Window: time.Minute, Period: time.Minute, MaxPeriod: 4 * time.Minute}

// clock is a Blocker's clock the test moves (the gateway's own stays at
// testNow, so proofs keep verifying).
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type blockEnv struct {
	*env
	rec   *recorder
	b     *block.Blocker
	clock *clock
	reg   registry
}

type registry struct{ *prometheus.Registry }

// errors is ward_block_store_errors_total.
func (r registry) errors() float64 {
	mfs, _ := r.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "ward_block_store_errors_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

func newBlockEnv(t *testing.T, cfg block.Config, store block.Store, mod func(*config.Gateway), opt func(*gateway.Options)) *blockEnv {
	t.Helper()
	be := &blockEnv{rec: newRecorder(), clock: &clock{now: testNow}, reg: registry{prometheus.NewRegistry()}}
	var err error
	be.b, err = block.New(block.Options{Store: store, Config: cfg, Events: be.rec.em, Clock: be.clock.Now, Registry: be.reg,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	be.env = newEnvWith(t, mod, func(o *gateway.Options) {
		o.Events, o.Blocks = be.rec.em, be.b
		if opt != nil {
			opt(o)
		}
	})
	go func() { // the tests send more good requests than e.seen holds
		for range be.seen {
		}
	}()
	return be
}

// from sends r from addr.
func (e *env) from(addr string, r *http.Request) *httptest.ResponseRecorder {
	r.RemoteAddr = addr + ":4711"
	w := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, r)
	return w
}

// good is a legitimate request: a token and a fresh proof.
func (e *env) good(tok string) *http.Request {
	r := httptest.NewRequest("GET", publicURL+"/orders/1", nil)
	p, _ := e.signer.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", p)
	return r
}

// forged is a request whose proof signature does not verify.
func (e *env) forged(tok string) *http.Request {
	r := e.good(tok)
	p := r.Header.Get("DPoP")
	r.Header.Set("DPoP", p[:len(p)-4]+"AAAA")
	return r
}

func addrOnly() block.Config { return block.Config{Address: blockPolicy} }

// TestBlockNoFalsePositives: a legitimate client's stray errors — a clock
// off either way, the same proof sent again after a network error, the
// nonce round trip and a stale nonce, an expired token — repeated 50 times
// (ten times the threshold) within the window never block its address or
// its key, and its next good request is served.
func TestBlockNoFalsePositives(t *testing.T) {
	nonces, err := dpop.NewStatelessNonces("gw", time.Minute, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	both := block.Config{Address: blockPolicy, Key: blockPolicy}
	for _, c := range []struct {
		name   string
		nonces bool
		stray  func(e *env, tok string) *http.Request
	}{
		{"retry after a network error: the same proof again", false, func(e *env, tok string) *http.Request {
			r := e.good(tok)
			e.from("198.51.100.7", r.Clone(r.Context())) // the first attempt, whose answer was lost
			return r
		}},
		{"clock 10 minutes slow", false, func(e *env, tok string) *http.Request {
			return e.skewed(tok, -10*time.Minute)
		}},
		{"clock 10 minutes fast", false, func(e *env, tok string) *http.Request {
			return e.skewed(tok, 10*time.Minute)
		}},
		{"nonce round trip: no nonce yet", true, func(e *env, tok string) *http.Request {
			return e.good(tok)
		}},
		{"stale nonce", true, func(e *env, tok string) *http.Request {
			r := httptest.NewRequest("GET", publicURL+"/orders/1", nil)
			p, _ := e.signer.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok), dpop.WithNonce("stale-nonce"))
			r.Header.Set("Authorization", "DPoP "+tok)
			r.Header.Set("DPoP", p)
			return r
		}},
		{"expired token", false, func(e *env, _ string) *http.Request {
			return e.good(e.token(map[string]any{"exp": testNow.Add(-time.Hour).Unix()}))
		}},
		{"proof for the previous token (ath)", false, func(e *env, tok string) *http.Request {
			r := e.good(e.token(map[string]any{"jti": "old"}))
			r.Header.Set("Authorization", "DPoP "+tok)
			return r
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ns dpop.NonceSource
			if c.nonces {
				ns = nonces
			}
			e := newBlockEnv(t, both, nil, nil, func(o *gateway.Options) { o.Nonces = ns })
			tok := e.token(nil)
			for i := range 50 {
				if w := e.from("198.51.100.7", c.stray(e.env, tok)); w.Code != 401 {
					t.Fatalf("stray error %d: %d %s, want 401", i, w.Code, w.Body)
				}
			}
			if bs, _ := e.b.List(t.Context()); len(bs) != 0 {
				t.Fatalf("blocked: %+v", bs)
			}
			if c.nonces {
				return // a good request needs the nonce dance: the list above is the proof
			}
			if w := e.from("198.51.100.7", e.good(tok)); w.Code != 200 {
				t.Fatalf("the client's next good request: %d %s", w.Code, w.Body)
			}
		})
	}
}

func (e *env) skewed(tok string, d time.Duration) *http.Request {
	s, _ := dpop.NewSigner(e.ck, dpop.WithClock(func() time.Time { return testNow.Add(d) }))
	p, _ := s.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
	r := httptest.NewRequest("GET", publicURL+"/orders/1", nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", p)
	return r
}

// blockedAnswer checks a refusal for a block: 429, Retry-After, the JSON
// error and X-Ward-Error.
func blockedAnswer(t *testing.T, w *httptest.ResponseRecorder, retryAfter string) {
	t.Helper()
	var body struct{ Error string }
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != 429 || w.Header().Get("Retry-After") != retryAfter || w.Header().Get("X-Ward-Error") != "blocked" ||
		body.Error != "blocked" || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("blocked answer: %d %v %s, want 429 Retry-After %s", w.Code, w.Header(), w.Body, retryAfter)
	}
}

// TestBlockAttacker: an address sending forged proof signatures is
// blocked at the threshold — every request from it is refused, a good one
// too, other addresses are not — for a period that doubles on a repeat
// offence and ends by itself; an admin's Lift ends it early. Each start
// and the lift are events, and the refusals are counted as "blocked".
func TestBlockAttacker(t *testing.T) {
	e := newBlockEnv(t, addrOnly(), nil, nil, nil)
	tok := e.token(nil)
	for i := range blockPolicy.Threshold {
		if w := e.from("203.0.113.5", e.forged(tok)); w.Code != 401 {
			t.Fatalf("forged %d: %d", i, w.Code)
		}
	}
	blockedAnswer(t, e.from("203.0.113.5", e.good(tok)), "60")
	if w := e.from("198.51.100.7", e.good(tok)); w.Code != 200 {
		t.Fatalf("another address: %d", w.Code)
	}
	if !strings.Contains(e.metrics(), `ward_gateway_rejections_total{error="blocked",reason="blocked"} 1`) {
		t.Error("the refusal is not counted with reason blocked")
	}
	evs := e.rec.events()
	if n := count(evs, secevent.AddressBlocked); n != 1 {
		t.Fatalf("events %+v, want one address_blocked", evs)
	}
	e.clock.Add(time.Minute)
	if w := e.from("203.0.113.5", e.good(tok)); w.Code != 200 {
		t.Fatalf("after the period: %d", w.Code)
	}
	// A repeat offence: twice as long.
	for range blockPolicy.Threshold {
		e.from("203.0.113.5", e.forged(tok))
	}
	blockedAnswer(t, e.from("203.0.113.5", e.good(tok)), "120")
	e.clock.Add(time.Minute)
	blockedAnswer(t, e.from("203.0.113.5", e.good(tok)), "60")
	// Lifted by an admin.
	if lifted, err := e.b.Lift(t.Context(), block.Address, "203.0.113.5"); err != nil || !lifted {
		t.Fatal(lifted, err)
	}
	if w := e.from("203.0.113.5", e.good(tok)); w.Code != 200 {
		t.Fatalf("after the lift: %d", w.Code)
	}
	evs = e.rec.events()
	if count(evs, secevent.AddressBlocked) != 1 || count(evs, secevent.BlockLifted) != 1 {
		t.Fatalf("events %+v, want address_blocked and block_lifted", evs)
	}
	for _, ev := range evs {
		if ev.Type == secevent.BlockLifted && ev.ClientAddr != "203.0.113.5" {
			t.Errorf("block_lifted %+v", ev)
		}
	}
}

func count(evs []secevent.Event, typ secevent.Type) int {
	n := 0
	for _, ev := range evs {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// TestBlockKey: forged proofs for a token bound to one key, from many
// addresses, block that key (when the key kind is on): a good request
// with it from a fresh address is refused. Forged proofs with a forged
// token name no key at all: nobody gets another's key blocked.
func TestBlockKey(t *testing.T) {
	e := newBlockEnv(t, block.Config{Key: blockPolicy}, nil, nil, nil)
	tok := e.token(nil)
	badTok := tok[:len(tok)-4] + "AAAA"
	for i := range 3 * blockPolicy.Threshold {
		e.from(netip.AddrFrom4([4]byte{198, 51, 100, byte(100 + i)}).String(), e.forged(badTok))
	}
	if w := e.from("198.51.100.7", e.good(tok)); w.Code != 200 {
		t.Fatalf("forged tokens blocked the key they name: %d", w.Code)
	}
	for i := range blockPolicy.Threshold {
		e.from(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}).String(), e.forged(tok))
	}
	blockedAnswer(t, e.from("198.51.100.8", e.good(tok)), "60")
	if n := count(e.rec.events(), secevent.KeyBlocked); n != 1 {
		t.Fatal("no key_blocked event")
	}
}

// TestBlockAllowList: an allowed address is never blocked however often
// it offends.
func TestBlockAllowList(t *testing.T) {
	cfg := addrOnly()
	cfg.Allow = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/28")}
	e := newBlockEnv(t, cfg, nil, nil, nil)
	tok := e.token(nil)
	for range 3 * blockPolicy.Threshold {
		e.from("203.0.113.5", e.forged(tok))
	}
	if w := e.from("203.0.113.5", e.good(tok)); w.Code != 200 {
		t.Fatalf("allowed address blocked: %d", w.Code)
	}
}

// TestBlockAuthorizer: the forward-auth endpoint and Decide (ext_authz)
// refuse a blocked address the same way.
func TestBlockAuthorizer(t *testing.T) {
	e := newBlockEnv(t, addrOnly(), nil, withAuthorizer, nil)
	tok := e.token(nil)
	for range blockPolicy.Threshold {
		e.from("192.0.2.1", e.forged(tok))
	}
	blockedAnswer(t, e.check("nginx", "GET", "/orders/1", publicURL+"/orders/1", tok, nil), "60")
	r := e.good(tok)
	r.RemoteAddr = "192.0.2.1:1"
	if d := e.gw.Decide(r); d.Allowed || d.Status != 429 || d.Reason != "blocked" || d.Header.Get("X-Ward-Error") != "blocked" {
		t.Fatalf("Decide: %+v", d)
	}
}

// TestBlockSharedRedis: two gateways sharing a Redis block store: the
// offences sent to one block the address at the other.
func TestBlockSharedRedis(t *testing.T) {
	_, c, prefix := wardtest.Redis(t, "gwblock")
	a := newBlockEnv(t, addrOnly(), block.NewRedisStore(c, block.RedisConfig{Prefix: prefix}), nil, nil)
	b := newBlockEnv(t, addrOnly(), block.NewRedisStore(c, block.RedisConfig{Prefix: prefix}), nil, nil)
	tok := a.token(nil)
	for range blockPolicy.Threshold {
		a.from("203.0.113.5", a.forged(tok))
	}
	btok := b.token(nil)
	blockedAnswer(t, b.from("203.0.113.5", b.good(btok)), "60")
	if bs, err := b.b.List(t.Context()); err != nil || len(bs) != 1 || bs[0].Value != "203.0.113.5" {
		t.Fatalf("List at the other instance: %+v %v", bs, err)
	}
	if _, err := b.b.Lift(t.Context(), block.Address, "203.0.113.5"); err != nil {
		t.Fatal(err)
	}
	// The other instance learns of the lift at its next snapshot refresh.
	a.clock.Add(block.DefaultRefresh)
	if w := a.from("203.0.113.5", a.good(tok)); w.Code != 200 {
		t.Fatalf("lifted at one instance, still blocked at the other: %d", w.Code)
	}
}

// TestBlockStoreDownFailsOpen: with the block store down, requests are
// served (blocking is a response, not a gate), the errors counted, and
// the store tried again once a StoreBackoff.
func TestBlockStoreDownFailsOpen(t *testing.T) {
	c := redisDown(t)
	e := newBlockEnv(t, addrOnly(), block.NewRedisStore(c, block.RedisConfig{Timeout: 50 * time.Millisecond}), nil, nil)
	tok := e.token(nil)
	for range 2 * blockPolicy.Threshold {
		if w := e.from("203.0.113.5", e.forged(tok)); w.Code != 401 {
			t.Fatalf("forged: %d", w.Code)
		}
	}
	if w := e.from("203.0.113.5", e.good(tok)); w.Code != 200 {
		t.Fatalf("store down: %d, want 200 (fail open)", w.Code)
	}
	// One failure, then the store is left alone for StoreBackoff: an
	// outage costs one timeout a second, not one a request.
	if n := e.reg.errors(); n != 1 {
		t.Fatalf("ward_block_store_errors_total %v, want 1", n)
	}
	e.clock.Add(block.StoreBackoff)
	if w := e.from("203.0.113.5", e.good(tok)); w.Code != 200 {
		t.Fatalf("store down: %d, want 200 (fail open)", w.Code)
	}
	if n := e.reg.errors(); n != 2 {
		t.Fatalf("ward_block_store_errors_total %v after the backoff, want 2", n)
	}
}

// redisDown is a client of a Redis that is not there.
func redisDown(t *testing.T) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 20 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRateLimitedEvents: a flood refused by a route's per-address tier
// emits one rate_limited event per address, not one a refusal.
func TestRateLimitedEvents(t *testing.T) {
	rec := newRecorder()
	e := newEnvWith(t, func(g *config.Gateway) { g.RateLimits.IP = config.Rate{Rate: 2, Period: time.Minute} },
		func(o *gateway.Options) { o.Events = rec.em })
	limited := 0
	for _, addr := range []string{"203.0.113.5", "203.0.113.6"} {
		for range 50 {
			if w := e.from(addr, httptest.NewRequest("GET", publicURL+"/public", nil)); w.Code == 429 {
				limited++
			}
		}
	}
	got := rec.events()
	if limited != 96 || count(got, secevent.RateLimited) != 2 {
		t.Fatalf("%d limited, events %+v; want 96 and two rate_limited", limited, got)
	}
	for _, ev := range got {
		if ev.Reason != "rate_limited_ip" || ev.Route != "public" || !strings.HasPrefix(ev.ClientAddr, "203.0.113.") {
			t.Errorf("event %+v", ev)
		}
	}
}

// TestBlockKeyForeignIssuer: another issuer the gateway accepts writes
// whatever key it likes in its tokens' cnf.jkt, such as a Ward client's
// (a jkt is public: every proof carries the key). Forged proofs with such
// a token strike the address, never the key: the key block would refuse
// that Ward client at the gateway and at /token (shared store).
func TestBlockKeyForeignIssuer(t *testing.T) {
	kc := newForeignIDP(t)
	e := newBlockEnv(t, block.Config{Key: blockPolicy}, nil, func(c *config.Gateway) {
		c.Issuer = ""
		c.Issuers = []config.GatewayIssuer{
			{Name: "ward", Issuer: issuerURL},
			{Name: "keycloak", Issuer: kc.srv.URL, Discovery: "oidc", TokenAlgorithms: []string{"RS256"}, Profile: "legacy-jwt"},
		}
		c.Routes[0].Issuers = []string{"keycloak"}
	}, func(o *gateway.Options) { o.Issuer = issuerURL })
	victim := e.signer.Thumbprint() // a Ward client's key
	tok := kc.token(t, victim)
	for i := range 3 * blockPolicy.Threshold {
		if w := e.from(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}).String(), e.forged(tok)); w.Code != 401 {
			t.Fatalf("forged proof: %d", w.Code)
		}
	}
	if blk, ok := e.b.Check(t.Context(), netip.Addr{}, victim); ok {
		t.Fatalf("another issuer's token got a key blocked: %+v", blk)
	}
	if n := count(e.rec.events(), secevent.KeyBlocked); n != 0 {
		t.Fatalf("%d key_blocked events", n)
	}
}
