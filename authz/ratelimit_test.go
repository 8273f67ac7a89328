package authz

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/pkce"
)

func withLimits(mod func(*config.RateLimits)) harnessOpt {
	return func(c *config.Config) { mod(&c.RateLimits) }
}

// withoutRequestRates turns off the default per-IP request rates, for
// benchmarks that send every request from one address (and a clock that
// stands still): they measure the server, as before the defaults.
func withoutRequestRates() harnessOpt {
	return withLimits(func(rl *config.RateLimits) {
		off := config.Rate{Off: true}
		rl.Token.IP, rl.PAR.IP, rl.Login.IP = off, off, off
	})
}

// withoutAuthBackoff turns off the failed-client-authentication allowance,
// for tests that fail on purpose many times from one address.
func withoutAuthBackoff() harnessOpt {
	return withLimits(func(rl *config.RateLimits) {
		rl.ClientAuthFailures = config.RateTiers{IP: config.Rate{Off: true}, Client: config.Rate{Off: true}}
	})
}

func wantLimited(t *testing.T, r *response, retry string) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.str("error") != "rate_limited" {
		t.Fatalf("want 429 rate_limited, got %d %s", r.status, r.body)
	}
	if got := r.header.Get("Retry-After"); got != retry {
		t.Fatalf("Retry-After %q, want %q", got, retry)
	}
	if r.header.Get("RateLimit") == "" || r.header.Get("RateLimit-Policy") == "" {
		t.Fatalf("no RateLimit headers: %v", r.header)
	}
}

func TestTokenRateLimitPerClient(t *testing.T) {
	h := newHarness(t, withLimits(func(rl *config.RateLimits) {
		rl.Token.Client = config.Rate{Rate: 2, Period: time.Minute}
		rl.Token.IP = config.Rate{Off: true} // the RateLimit header names one tier
	}))
	form := func(id string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {h.secrets[id]}}
	}
	for i := range 2 {
		r := h.post(PathToken, form("svc"), "DPoP", h.proof(h.newSigner()))
		if r.status == http.StatusTooManyRequests {
			t.Fatalf("request %d limited", i)
		}
		if got := r.header.Get("RateLimit"); got != `"client";r=`+[]string{"1", "0"}[i]+`;t=`+[]string{"30", "60"}[i] {
			t.Fatalf("request %d: RateLimit %q", i, got)
		}
	}
	wantLimited(t, h.post(PathToken, form("svc"), "DPoP", h.proof(h.newSigner())), "30")
	// Another client is not affected; an unauthenticated caller claiming
	// svc's client_id spends nothing of svc's allowance (it fails first).
	if r := h.post(PathToken, form("post"), "DPoP", h.proof(h.newSigner())); r.status == http.StatusTooManyRequests {
		t.Fatal("client post limited by svc's traffic")
	}
	bad := form("svc")
	bad.Set("client_secret", "wrong")
	if r := h.post(PathToken, bad); r.status != http.StatusUnauthorized {
		t.Fatalf("bad secret: %d", r.status)
	}
	// The allowance comes back at the advertised time.
	h.clk.Advance(30 * time.Second)
	if r := h.post(PathToken, form("svc"), "DPoP", h.proof(h.newSigner())); r.status == http.StatusTooManyRequests {
		t.Fatal("still limited after Retry-After")
	}
}

func TestTokenAndPARRateLimitPerIP(t *testing.T) {
	h := newHarness(t, withLimits(func(rl *config.RateLimits) {
		rl.Token.IP = config.Rate{Rate: 1, Period: 10 * time.Second}
		rl.PAR.IP = config.Rate{Rate: 1, Period: 10 * time.Second}
	}))
	h.post(PathToken, url.Values{"grant_type": {"client_credentials"}})
	// Refused before the body is even read.
	wantLimited(t, h.post(PathToken, url.Values{"grant_type": {"client_credentials"}}), "10")
	v, _ := pkce.NewVerifier()
	h.post(PathPAR, authParams("web", webRedirect, pkce.Challenge(v)), h.basic("web")...)
	wantLimited(t, h.post(PathPAR, authParams("web", webRedirect, pkce.Challenge(v)), h.basic("web")...), "10")
}

// loginPage starts a flow and returns its login page.
func loginPage(h *harness, b *browser) *response {
	v, _ := pkce.NewVerifier()
	return b.get(h.issuer + PathAuthorize + "?" + authParams("web", webRedirect, pkce.Challenge(v)).Encode())
}

// TestCredentialStuffingSlowed: failures of one account get growing
// delays, told as "try again in N seconds" with Retry-After, never by
// holding the connection; while waiting even the right password is refused
// before any password work; the lock expires, and a success forgets.
func TestCredentialStuffingSlowed(t *testing.T) {
	h := newHarness(t, withLimits(func(rl *config.RateLimits) {
		rl.LoginFailures.Account = config.FailurePolicy{Free: 2, BaseDelay: time.Second, MaxDelay: 8 * time.Second,
			LockAfter: 6, LockFor: 10 * time.Minute, Forget: time.Hour}
		rl.LoginFailures.IP.Off = true
	}))
	b := h.newBrowser()
	// Failure n → wait: 1,2 free; 3: 1s; 4: 2s; 5: 4s; 6: lock 10m.
	for i, wait := range []time.Duration{0, 0, 1, 2, 4, 600} {
		start := time.Now()
		r := b.login(loginPage(h, b), "alice", "guess")
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("failure %d held the connection %v", i+1, took)
		}
		if r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, r.status)
		}
		ra := r.header.Get("Retry-After")
		if wait == 0 && ra != "" || wait > 0 && ra != strconv.Itoa(int(wait)) {
			t.Fatalf("failure %d: Retry-After %q, want %d", i+1, ra, wait)
		}
		if wait > 0 {
			if !strings.Contains(string(r.body), "Try again in "+strconv.Itoa(int(wait))+" seconds") {
				t.Fatalf("failure %d: no wait in the page", i+1)
			}
			// While waiting, even the right password is refused.
			if r := b.login(loginPage(h, b), "alice", testPassword); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != strconv.Itoa(int(wait)) {
				t.Fatalf("attempt during the wait after failure %d: %d %q", i+1, r.status, r.header.Get("Retry-After"))
			}
		}
		h.clk.Advance(wait * time.Second)
	}
	// The lock expired (the loop waited it out): the real user signs in.
	r := b.login(loginPage(h, b), "alice", testPassword)
	if r.status == http.StatusTooManyRequests || r.status == http.StatusUnauthorized {
		t.Fatalf("real user after the lock: %d", r.status)
	}
	if n := h.s.limits.account.Failures("alice"); n != 0 {
		t.Fatalf("success did not forget the failures: %d", n)
	}
}

// TestLoginConcurrentGuesses: wrong passwords for one account sent at
// once are checked one after another (loginLocks), so each sees the
// failures before it: the default policy's five free failures and the
// sixth, which imposes a wait, get 401, and the rest 429 before any
// password work, not all twelve checked.
func TestLoginConcurrentGuesses(t *testing.T) {
	h := newHarness(t, withLimits(func(rl *config.RateLimits) { rl.LoginFailures.IP.Off = true }))
	const n = 12
	browsers, pages := make([]*browser, n), make([]*response, n)
	for i := range n {
		browsers[i] = h.newBrowser()
		pages[i] = loginPage(h, browsers[i])
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = browsers[i].login(pages[i], "alice", "guess").status })
	}
	wg.Wait()
	checked := 0
	for _, s := range statuses {
		if s == http.StatusUnauthorized {
			checked++
		}
	}
	if checked != 6 {
		t.Fatalf("%d of %d concurrent guesses were checked, want 6 (statuses %v)", checked, n, statuses)
	}
}

// TestLoginThrottleNoEnumeration: an unknown username is throttled exactly
// like a known one (status, Retry-After, page), so the throttle reveals
// nothing, and failures cost the same time (argon2id or DummyVerify).
func TestLoginThrottleNoEnumeration(t *testing.T) {
	h := newHarness(t, withLimits(func(rl *config.RateLimits) { rl.LoginFailures.IP.Off = true }))
	seq := func(user string) []string {
		b := h.newBrowser()
		var out []string
		for range 8 {
			r := b.login(loginPage(h, b), user, "guess")
			body := strings.ReplaceAll(hiddenRE.ReplaceAllString(string(r.body), ""), user, "USER")
			out = append(out, strconv.Itoa(r.status)+" "+r.header.Get("Retry-After")+" "+body)
		}
		return out
	}
	known, unknown := seq("alice"), seq("mallory")
	if !slices.Equal(known, unknown) {
		for i := range known {
			if known[i] != unknown[i] {
				t.Fatalf("attempt %d differs:\nknown   %.200s\nunknown %.200s", i+1, known[i], unknown[i])
			}
		}
	}
	if !strings.HasPrefix(known[5], "401 1 ") || !strings.HasPrefix(known[6], "429 1 ") {
		t.Fatalf("default policy: 6th failure waits 1s, 7th attempt refused: %.40q %.40q", known[5], known[6])
	}
}

func TestLoginTimingUnknownUser(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	h := newHarness(t, withLimits(func(rl *config.RateLimits) {
		rl.LoginFailures.Account.Off, rl.LoginFailures.IP.Off = true, true
	}))
	b := h.newBrowser()
	var known, unknown []time.Duration
	for range 7 { // interleaved, so load affects both alike
		for _, u := range []string{"alice", "mallory"} {
			p := loginPage(h, b)
			start := time.Now()
			b.login(p, u, "guess")
			if u == "alice" {
				known = append(known, time.Since(start))
			} else {
				unknown = append(unknown, time.Since(start))
			}
		}
	}
	// The fastest of each: load on a shared machine only adds time, so
	// the minimum is the work itself (an argon2id verify either way, or
	// none for the unknown user if DummyVerify were skipped).
	k, u := slices.Min(known), slices.Min(unknown)
	t.Logf("fastest wrong password %v, unknown user %v", k, u)
	if k > 2*u || u > 2*k {
		t.Fatalf("timing differs: wrong password %v, unknown user %v", k, u)
	}
}

// TestLoginIPThrottle: one address trying many accounts (one guess each,
// as in credential stuffing) is slowed by the per-IP policy.
func TestLoginIPThrottle(t *testing.T) {
	h := newHarness(t, withLimits(func(rl *config.RateLimits) {
		rl.LoginFailures.Account.Off = true
		rl.LoginFailures.IP = config.FailurePolicy{Free: 3, BaseDelay: 5 * time.Second, MaxDelay: time.Minute, Forget: time.Hour}
	}))
	b := h.newBrowser()
	for i := range 3 {
		if r := b.login(loginPage(h, b), "user"+strconv.Itoa(i), "pw"); r.status != http.StatusUnauthorized || r.header.Get("Retry-After") != "" {
			t.Fatalf("failure %d: %d %q", i, r.status, r.header.Get("Retry-After"))
		}
	}
	if r := b.login(loginPage(h, b), "user3", "pw"); r.header.Get("Retry-After") != "5" {
		t.Fatalf("4th account: Retry-After %q", r.header.Get("Retry-After"))
	}
	if r := b.login(loginPage(h, b), "user4", "pw"); r.status != http.StatusTooManyRequests {
		t.Fatalf("5th account during the wait: %d", r.status)
	}
}

func TestLoginRateLimitPerIP(t *testing.T) {
	h := newHarness(t, withLimits(func(rl *config.RateLimits) {
		rl.Login.IP = config.Rate{Rate: 1, Period: 20 * time.Second}
	}))
	b := h.newBrowser()
	b.login(loginPage(h, b), "alice", "x")
	r := b.login(loginPage(h, b), "alice", "x")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "20" || !strings.Contains(string(r.body), "Try again in 20 seconds") {
		t.Fatalf("%d %q", r.status, r.header.Get("Retry-After"))
	}
}

// TestTokenRateLimitPublicClientPerAddress: a public client is named, not
// authenticated, so the per-client tier cannot be one allowance for its
// client_id: anyone could spend it by naming the client and lock out every
// user of the app. From one address the tier still limits; another
// address naming the same client is unaffected.
func TestTokenRateLimitPublicClientPerAddress(t *testing.T) {
	h := newHarness(t, fromAddress(), withLimits(func(rl *config.RateLimits) {
		rl.Token.Client = config.Rate{Rate: 2, Period: time.Minute}
		rl.Token.IP = config.Rate{Off: true}
	}))
	post := func(addr string) *response {
		t.Helper()
		form := url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {"not-a-token"}}
		return h.post(PathToken, form, "X-Forwarded-For", addr, "DPoP", h.proof(h.newSigner()))
	}
	for i := range 2 {
		if r := post("198.51.100.8"); r.status == http.StatusTooManyRequests {
			t.Fatalf("request %d limited", i)
		}
	}
	wantLimited(t, post("198.51.100.8"), "30")
	if r := post("203.0.113.10"); r.status == http.StatusTooManyRequests {
		t.Fatalf("a user of the public client at another address is locked out by someone naming its client_id: %s", r.body)
	}
}
