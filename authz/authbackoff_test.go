package authz

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/store"
)

// fromAddress makes the harness's loopback peer a trusted proxy, so that
// each request's X-Forwarded-For is its client address.
func fromAddress() harnessOpt {
	return func(c *config.Config) {
		c.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
}

// TestClientAuthBackoff: with the default configuration, failed client
// authentication is backed off per address and client_id (10 failures,
// then one every 30 s): the 11th attempt from that address is refused
// with 429 and Retry-After before the secret is even checked, the right
// secret included; another address, and another client from the same
// address, are unaffected; after Retry-After the right secret works.
func TestClientAuthBackoff(t *testing.T) {
	h := newHarness(t, fromAddress())
	post := func(addr, id, secret string) *response {
		t.Helper()
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
		return h.post(PathToken, form, "X-Forwarded-For", addr, "DPoP", h.proof(h.newSigner()))
	}
	for i := range 10 {
		if r := post("198.51.100.7", "post", "wrong"); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s, want 401", i+1, r.status, r.body)
		}
	}
	r := post("198.51.100.7", "post", h.secrets["post"])
	wantLimited(t, r, "30")
	if r := post("203.0.113.9", "post", h.secrets["post"]); r.status != http.StatusOK {
		t.Fatalf("another address: %d %s", r.status, r.body)
	}
	if r := post("203.0.113.9", "post", "wrong"); r.status != http.StatusUnauthorized {
		t.Fatalf("another address, wrong secret: %d, want 401", r.status)
	}
	if r := post("198.51.100.7", "svc", h.secrets["svc"]); r.status != http.StatusOK {
		t.Fatalf("another client from the same address: %d %s", r.status, r.body)
	}
	h.clk.Advance(30*time.Second - time.Millisecond)
	wantLimited(t, post("198.51.100.7", "post", h.secrets["post"]), "1")
	h.clk.Advance(time.Millisecond)
	if r := post("198.51.100.7", "post", h.secrets["post"]); r.status != http.StatusOK {
		t.Fatalf("right secret after Retry-After: %d %s", r.status, r.body)
	}
}

// TestClientAuthBackoffPerAddress: one address failing for many
// client_ids (spraying) is stopped after 100 failures whatever the
// client_id; the same clients from another address are unaffected.
func TestClientAuthBackoffPerAddress(t *testing.T) {
	h := newHarness(t, fromAddress())
	post := func(addr, id, secret string) *response {
		t.Helper()
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
		return h.post(PathToken, form, "X-Forwarded-For", addr, "DPoP", h.proof(h.newSigner()))
	}
	for i := range 100 {
		if r := post("198.51.100.8", "c"+strconv.Itoa(i), "x"); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s, want 401", i+1, r.status, r.body)
		}
	}
	wantLimited(t, post("198.51.100.8", "svc", h.secrets["svc"]), "3")
	if r := post("203.0.113.10", "svc", h.secrets["svc"]); r.status != http.StatusOK {
		t.Fatalf("another address: %d %s", r.status, r.body)
	}
}

// TestTokenFloodThrottledByDefault: without any rate_limits in the
// configuration, one address sending /token requests as fast as it can is
// refused after the default burst (300), before the body is read; another
// address is not. (The requests authenticate, so that the failure
// allowance is not what refuses them.)
func TestTokenFloodThrottledByDefault(t *testing.T) {
	h := newHarness(t, fromAddress())
	form := url.Values{"grant_type": {"client_credentials"}}
	hdr := append(h.basic("web"), "X-Forwarded-For", "198.51.100.9")
	limited := 0
	for range 310 {
		r := h.post(PathToken, form, hdr...)
		if r.status == http.StatusTooManyRequests {
			limited++
		}
	}
	// The harness clock stands still: 300 at once, then none.
	if limited != 10 {
		t.Fatalf("%d of 310 requests limited, want 10", limited)
	}
	wantLimited(t, h.post(PathToken, form, hdr...), "1")
	if r := h.post(PathToken, form, append(h.basic("web"), "X-Forwarded-For", "203.0.113.11")...); r.status == http.StatusTooManyRequests {
		t.Fatal("another address limited")
	}
}

// TestClientAuthBackoffRedis: the failure allowance kept in Redis (as
// `ward serve` does with a redis section) behaves the same, and is shared
// by the servers using it: failures at one instance back off the address
// at another.
func TestClientAuthBackoffRedis(t *testing.T) {
	_, c, prefix := wardtest.Redis(t, "authz-backoff")
	st := ratelimit.NewRedisStore(c, ratelimit.RedisConfig{Prefix: prefix})
	a := newHarnessRateLimitStore(t, st, fromAddress())
	b := newHarnessRateLimitStore(t, st, fromAddress())
	// One time for both instances, as with NTP: the later of the two, so
	// that neither's signing key (made at its start) is from its future
	// when the two starts fall in different seconds.
	if d := b.clk.Now().Sub(a.clk.Now()); d > 0 {
		a.clk.Advance(d)
	} else {
		b.clk.Advance(-d)
	}
	post := func(h *harness, addr, secret string) *response {
		t.Helper()
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"post"}, "client_secret": {secret}}
		return h.post(PathToken, form, "X-Forwarded-For", addr, "DPoP", h.proof(h.newSigner()))
	}
	for i := range 10 {
		if r := post(a, "198.51.100.20", "wrong"); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i+1, r.status, r.body)
		}
	}
	wantLimited(t, post(b, "198.51.100.20", b.secrets["post"]), "30")
	if r := post(b, "203.0.113.20", b.secrets["post"]); r.status != http.StatusOK {
		t.Fatalf("another address: %d %s", r.status, r.body)
	}
	a.clk.Advance(30 * time.Second)
	b.clk.Advance(30 * time.Second)
	if r := post(b, "198.51.100.20", b.secrets["post"]); r.status != http.StatusOK {
		t.Fatalf("right secret after Retry-After: %d %s", r.status, r.body)
	}
}

// gatedStore holds every GetClient until n have arrived (or a second has
// passed), so that n client authentications are in flight at once.
type gatedStore struct {
	storeT
	mu      sync.Mutex
	n       int
	arrived chan struct{}
	wait    time.Duration // how long an early arrival waits for the rest; default 1 s
}

func (g *gatedStore) GetClient(ctx context.Context, id string) (*store.Client, error) {
	g.mu.Lock()
	g.n--
	if g.n == 0 {
		close(g.arrived)
	}
	g.mu.Unlock()
	wait := g.wait
	if wait == 0 {
		wait = time.Second
	}
	select {
	case <-g.arrived:
	case <-time.After(wait):
	}
	return g.storeT.GetClient(ctx, id)
}

// TestClientAuthBurstOfSuccesses: a burst of correct authentications from
// one address, more at once than the failure allowance holds (a fleet
// behind one NAT starting together), all succeed: the attempts beyond
// the failures left wait for one in flight to end (authGate) instead of
// being refused; nothing is reserved or spent by a success.
func TestClientAuthBurstOfSuccesses(t *testing.T) {
	h := newHarness(t, fromAddress())
	const burst = 12 // the per-client allowance is 10
	h.s.clients = newClientCache(&gatedStore{storeT: h.st, n: burst, arrived: make(chan struct{}), wait: 100 * time.Millisecond}, 0, h.s.now)
	var wg sync.WaitGroup
	statuses := make([]int, burst)
	for i := range burst {
		wg.Go(func() {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"post"}, "client_secret": {h.secrets["post"]}}
			statuses[i] = h.post(PathToken, form, "X-Forwarded-For", "198.51.100.8", "DPoP", h.proof(h.newSigner())).status
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Fatalf("request %d of a burst of correct secrets: %d (statuses %v)", i, s, statuses)
		}
	}
	if n := h.s.authGate.size(); n != 0 {
		t.Fatalf("%d lock entries left after the burst", n)
	}
}

// TestClientAuthBackoffConcurrent: attempts in flight at once cannot each
// spend the one failure left: no more attempts of a key are admitted in
// flight than failures are left (authGate), so 20 concurrent wrong
// secrets with one failure left get one 401, not 20.
func TestClientAuthBackoffConcurrent(t *testing.T) {
	h := newHarness(t, fromAddress())
	post := func(secret string) *response {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"post"}, "client_secret": {secret}}
		return h.post(PathToken, form, "X-Forwarded-For", "198.51.100.7", "DPoP", h.proof(h.newSigner()))
	}
	for i := range 9 {
		if r := post("wrong"); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s, want 401", i+1, r.status, r.body)
		}
	}
	const racers = 20
	g := &gatedStore{storeT: h.st, n: racers, arrived: make(chan struct{})}
	h.s.clients = newClientCache(g, 0, h.s.now)
	var wg sync.WaitGroup
	statuses := make([]int, racers)
	for i := range racers {
		wg.Go(func() { statuses[i] = post("wrong").status })
	}
	wg.Wait()
	failed := 0
	for _, s := range statuses {
		if s == http.StatusUnauthorized {
			failed++
		}
	}
	if failed != 1 {
		t.Fatalf("%d of %d concurrent wrong secrets were checked with one failure left, want 1 (statuses %v)", failed, racers, statuses)
	}
	// A success spends nothing: the right secret from another address works
	// as often as wanted.
	h.s.clients = newClientCache(h.st, 0, h.s.now)
	for range 15 {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"post"}, "client_secret": {h.secrets["post"]}}
		if r := h.post(PathToken, form, "X-Forwarded-For", "203.0.113.9", "DPoP", h.proof(h.newSigner())); r.status != http.StatusOK {
			t.Fatalf("right secret: %d %s", r.status, r.body)
		}
	}
}
