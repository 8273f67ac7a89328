package authz

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/secevent"
)

var testBlockPolicy = block.Policy{Threshold: 5, Window: time.Minute, Period: time.Minute, MaxPeriod: time.Hour}

// withBlocks restarts h's server with a Blocker of cfg on h's clock and
// an emitter, and returns the events function of withEvents.
func withBlocks(t *testing.T, h *harness, cfg block.Config) func() []secevent.Event {
	t.Helper()
	events := withEvents(h) // makes h.events
	b, err := block.New(block.Options{Config: cfg, Events: h.events, Clock: h.clk.Now, Logger: h.s.log})
	if err != nil {
		t.Fatal(err)
	}
	h.blocks = b
	h.s = h.newServer()
	h.srv.Config.Handler = h.s.Handler()
	return events
}

func wantBlocked(t *testing.T, r *response, retry string) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.str("error") != "blocked" || r.header.Get("Retry-After") != retry ||
		r.header.Get("X-Ward-Error") != "blocked" {
		t.Fatalf("want 429 blocked, Retry-After %s; got %d %v %s", retry, r.status, r.header, r.body)
	}
}

// TestBlockAtToken: forged proof signatures from one address at /token
// block the address there and at /par, before the body is read; another
// address is served; the block ends by itself.
func TestBlockAtToken(t *testing.T) {
	h := newHarness(t, fromAddress())
	events := withBlocks(t, h, block.Config{Address: testBlockPolicy})
	cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {"post"}, "client_secret": {h.secrets["post"]}}
	s := h.newSigner()
	for range testBlockPolicy.Threshold {
		p := h.proof(s)
		wantError(t, h.post(PathToken, cc, "DPoP", p[:len(p)-4]+"AAAA", "X-Forwarded-For", "203.0.113.5"),
			http.StatusBadRequest, "invalid_dpop_proof")
	}
	wantBlocked(t, h.post(PathToken, cc, "DPoP", h.proof(s), "X-Forwarded-For", "203.0.113.5"), "60")
	wantBlocked(t, h.post(PathPAR, url.Values{}, "X-Forwarded-For", "203.0.113.5"), "60")
	wantToken(t, h.post(PathToken, cc, "DPoP", h.proof(s), "X-Forwarded-For", "198.51.100.7"))
	if got := events(); count(got, secevent.AddressBlocked) != 1 {
		t.Fatalf("events %+v, want address_blocked", got)
	}
	h.clk.Advance(time.Minute)
	wantToken(t, h.post(PathToken, cc, "DPoP", h.proof(s), "X-Forwarded-For", "203.0.113.5"))
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

// TestBlockNoFalsePositivesAtToken: a legitimate client's stray errors at
// /token — the nonce round trip, a stale nonce, the same proof again
// after a network error, a clock off — fifty times each never block it.
func TestBlockNoFalsePositivesAtToken(t *testing.T) {
	h := newHarness(t, fromAddress(), func(c *config.Config) { c.DPoP.Nonce.Enabled = true })
	withBlocks(t, h, block.Config{Address: testBlockPolicy, Key: testBlockPolicy})
	cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {"post"}, "client_secret": {h.secrets["post"]}}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := dpop.NewSigner(k, dpop.WithClock(h.clk.Now))
	ip := []string{"X-Forwarded-For", "198.51.100.7"}
	first := h.post(PathToken, cc, append([]string{"DPoP", h.proof(s)}, ip...)...) // the round trip
	wantError(t, first, http.StatusBadRequest, "use_dpop_nonce")
	nonce := first.header.Get("DPoP-Nonce")
	good := h.proof(s, dpop.WithNonce(nonce))
	wantToken(t, h.post(PathToken, cc, append([]string{"DPoP", good}, ip...)...))
	skewed, _ := dpop.NewSigner(k, dpop.WithClock(func() time.Time { return h.clk.Now().Add(-time.Hour) }))
	for i := range 50 {
		for name, p := range map[string]string{
			"no nonce":   h.proof(s),
			"stale":      h.proof(s, dpop.WithNonce("stale-"+strconv.Itoa(i))),
			"retry":      good,
			"clock slow": h.proof(skewed, dpop.WithNonce(nonce)),
		} {
			if r := h.post(PathToken, cc, append([]string{"DPoP", p}, ip...)...); r.status != http.StatusBadRequest {
				t.Fatalf("%s %d: %d %s", name, i, r.status, r.body)
			}
		}
	}
	wantToken(t, h.post(PathToken, cc, append([]string{"DPoP", h.proof(s, dpop.WithNonce(nonce))}, ip...)...))
}

// TestBlockKeyAtToken: a blocked key is refused at /token once its proof
// verified, from any address.
func TestBlockKeyAtToken(t *testing.T) {
	h := newHarness(t, fromAddress())
	withBlocks(t, h, block.Config{Key: testBlockPolicy})
	s := h.newSigner()
	for range testBlockPolicy.Threshold {
		h.blocks.Strike(t.Context(), block.Offence{JKT: s.Thumbprint(), Reason: "bad_signature"})
	}
	cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {"post"}, "client_secret": {h.secrets["post"]}}
	wantBlocked(t, h.post(PathToken, cc, "DPoP", h.proof(s), "X-Forwarded-For", "198.51.100.7"), "60")
	wantToken(t, h.post(PathToken, cc, "DPoP", h.proof(h.newSigner()), "X-Forwarded-For", "198.51.100.7"))
}

// TestRateLimitedEvent: a flood refused by /token's per-address limit
// emits one rate_limited event, not one a refusal.
func TestRateLimitedEvent(t *testing.T) {
	h := newHarness(t, fromAddress(), func(c *config.Config) {
		c.RateLimits.Token.IP = config.Rate{Rate: 2, Period: time.Minute}
	})
	events := withEvents(h)
	cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {"post"}, "client_secret": {h.secrets["post"]}}
	for range 50 {
		h.post(PathToken, cc, "X-Forwarded-For", "203.0.113.5")
	}
	got := events()
	if count(got, secevent.RateLimited) != 1 {
		t.Fatalf("events %+v, want one rate_limited", got)
	}
	for _, ev := range got {
		if ev.Type == secevent.RateLimited && (ev.Reason != "rate_limited_ip" || ev.ClientAddr != "203.0.113.5" || ev.Route != "token") {
			t.Errorf("event %+v", ev)
		}
	}
}
