package authz

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/ratelimit"
)

// limits are the server's rate limits (config rate_limits) and its
// failed-login throttling. A nil limiter or tracker is off.
type limits struct {
	token, par, login   endpointLimits
	account, ip         *ratelimit.Backoff // failed logins
	accountLock, ipLock int                // their lock_after (0: never), for metrics
	trusted             []netip.Prefix     // X-Forwarded-For read only from these
}

type endpointLimits struct{ ip, client *ratelimit.Limiter }

func newLimits(cfg *config.Config, store ratelimit.Store, now func() time.Time) (*limits, error) {
	rl := cfg.RateLimits
	if store == nil {
		store = ratelimit.NewMemoryStore(int(rl.MaxKeys))
	}
	l := &limits{trusted: cfg.BehindTLSProxy.TrustedProxies}
	mk := func(r config.Rate, name string) (*ratelimit.Limiter, error) {
		if !r.Enabled() {
			return nil, nil
		}
		return ratelimit.New(store, ratelimit.Limit{Rate: int(r.Rate), Period: r.PeriodOrDefault(), Burst: int(r.Burst)},
			ratelimit.WithName(name), ratelimit.WithClock(now))
	}
	var err error
	for _, e := range []struct {
		t   config.RateTiers
		dst *endpointLimits
	}{{rl.Token, &l.token}, {rl.PAR, &l.par}, {rl.Login, &l.login}} {
		if e.dst.ip, err = mk(e.t.IP, "ip"); err != nil {
			return nil, fmt.Errorf("%w: rate_limits: %w", ErrConfig, err)
		}
		if e.dst.client, err = mk(e.t.Client, "client"); err != nil {
			return nil, fmt.Errorf("%w: rate_limits: %w", ErrConfig, err)
		}
	}
	backoff := func(p config.FailurePolicy) *ratelimit.Backoff {
		if p.Off {
			return nil
		}
		return ratelimit.NewBackoff(ratelimit.BackoffPolicy{
			Free: int(p.Free), Base: p.BaseDelay, Max: p.MaxDelay,
			LockAfter: int(p.LockAfter), LockFor: p.LockFor, Forget: p.Forget,
		}, int(rl.MaxKeys), now)
	}
	l.account, l.ip = backoff(rl.LoginFailures.Account), backoff(rl.LoginFailures.IP)
	l.accountLock, l.ipLock = int(rl.LoginFailures.Account.LockAfter), int(rl.LoginFailures.IP.LockAfter)
	return l, nil
}

// clientIP is the rate-limit key of the request's client address.
func (l *limits) clientIP(r *http.Request) string {
	return ratelimit.IPKey(ratelimit.ClientIP(r, l.trusted))
}

// allow takes one request of key from lim (nil: no limit). On refusal it
// answers 429 rate_limited in the OAuth JSON format with Retry-After and
// the RateLimit headers; a store that cannot answer gets 503 (fail
// closed). Allowed requests get the RateLimit headers. It reports whether
// to go on.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, lim *ratelimit.Limiter, endpoint, key string) bool {
	res, err := s.take(w, r, lim, endpoint, key)
	switch {
	case err != nil:
		s.writeEndpointError(w, r, endpoint, &oauth.Error{Code: oauth.TemporarilyUnavailable, Status: http.StatusServiceUnavailable,
			Description: "the rate limiter is unavailable; try again", RetryAfter: 1})
		return false
	case !res.Allowed:
		s.writeEndpointError(w, r, endpoint, &oauth.Error{Code: oauth.RateLimited, Status: http.StatusTooManyRequests, Reason: "rate_limited_" + lim.Name(),
			RetryAfter: res.RetryAfterSeconds(), Description: fmt.Sprintf("too many requests; try again in %d seconds", res.RetryAfterSeconds())})
		return false
	}
	return true
}

// take makes the rate-limit decision shared by allow and allowPage: it
// sets the RateLimit headers, and logs and counts refusals. A nil limiter
// allows everything; a store that cannot answer is an error (fail closed).
func (s *Server) take(w http.ResponseWriter, r *http.Request, lim *ratelimit.Limiter, endpoint, key string) (ratelimit.Result, error) {
	if lim == nil {
		return ratelimit.Result{Allowed: true}, nil
	}
	res, err := lim.Allow(r.Context(), "as\x00"+endpoint+"\x00"+lim.Name()+"\x00"+key)
	if err != nil {
		s.log.Error("authz: rate limit store unavailable; refusing", "endpoint", endpoint, "err", err)
		return res, err
	}
	var h ratelimit.Headers
	h.Add(lim.Name(), res)
	h.Write(w.Header())
	if !res.Allowed {
		s.log.Info("authz: rate limited", "endpoint", endpoint, "tier", lim.Name(), "key", key, "retry_after", res.RetryAfterSeconds())
		s.metrics.rateLimitedRequest(endpoint, lim.Name())
	}
	return res, nil
}

// accountKey groups the spellings of a username. It is the same for known
// and unknown usernames: throttling says nothing about which exist.
func accountKey(username string) string {
	if len(username) > 256 {
		username = username[:256]
	}
	return strings.ToLower(username)
}

// loginWait is how long a login attempt for username from r's address
// must still wait (0: it may try). It is checked before any password
// work, the same way for every username.
func (l *limits) loginWait(r *http.Request, username string) time.Duration {
	var d time.Duration
	if l.account != nil {
		d = l.account.Wait(accountKey(username))
	}
	if l.ip != nil {
		d = max(d, l.ip.Wait(l.clientIP(r)))
	}
	return d
}

// loginLocked reports whether a refused attempt (loginWait > 0) is
// refused by a lock (lock_after failures of the account or the address
// whose wait is running) rather than a growing delay. For metrics only.
func (l *limits) loginLocked(r *http.Request, username string) bool {
	locked := func(b *ratelimit.Backoff, lockAfter int, key string) bool {
		return b != nil && lockAfter > 0 && b.Failures(key) >= lockAfter && b.Wait(key) > 0
	}
	return locked(l.account, l.accountLock, accountKey(username)) || locked(l.ip, l.ipLock, l.clientIP(r))
}

// loginFailed records a failed login (unknown user or wrong password
// alike) and returns the wait it imposes on the next attempt.
func (l *limits) loginFailed(r *http.Request, username string) time.Duration {
	var d time.Duration
	if l.account != nil {
		d = l.account.Fail(accountKey(username))
	}
	if l.ip != nil {
		d = max(d, l.ip.Fail(l.clientIP(r)))
	}
	return d
}

// loginSucceeded forgets the account's failures. The address's are kept:
// one good password must not wipe the record of an address that tried
// many accounts.
func (l *limits) loginSucceeded(username string) {
	if l.account != nil {
		l.account.Reset(accountKey(username))
	}
}

// waitMessage says when to try again, in whole seconds.
func waitMessage(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	return "Too many failed sign-in attempts. Try again in " + strconv.Itoa(secs) + " seconds."
}

func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int((d+time.Second-1)/time.Second))))
}

// allowPage is allow for the HTML login page: the refusal is an error
// page with Retry-After, not JSON.
func (s *Server) allowPage(w http.ResponseWriter, r *http.Request, lim *ratelimit.Limiter, endpoint, key string) bool {
	res, err := s.take(w, r, lim, endpoint, key)
	switch {
	case err != nil:
		w.Header().Set("Retry-After", "1")
		s.errorPage(w, r, http.StatusServiceUnavailable, oauth.New(oauth.TemporarilyUnavailable, "Sign-in is unavailable for a moment. Try again."))
		return false
	case !res.Allowed:
		w.Header().Set("Retry-After", strconv.Itoa(res.RetryAfterSeconds()))
		s.errorPage(w, r, http.StatusTooManyRequests, oauth.New(oauth.RateLimited, "Too many sign-in attempts from your network. Try again in %d seconds.", res.RetryAfterSeconds()))
		return false
	}
	return true
}
