package authz

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
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
	register            endpointLimits     // dynamic client registration: per ip, and global for POST /register (register.go)
	eventsPush          endpointLimits     // pushed SETs, per ip (events_push.go)
	authFailures        endpointLimits     // failed client authentications: ip, and client per (ip, client_id)
	account, ip         *ratelimit.Backoff // failed logins
	accountLock, ipLock int                // their lock_after (0: never), for metrics
	trusted             []netip.Prefix     // X-Forwarded-For read only from these
	// deviceFailures: wrong user codes on /device, per address and over
	// all (device_authorization.user_code_failures; device_page.go).
	deviceFailures endpointLimits
}

type endpointLimits struct{ ip, client, global *ratelimit.Limiter }

func newLimits(cfg *config.Config, store ratelimit.Store, now func() time.Time) (*limits, error) {
	rl := cfg.RateLimits.Effective()
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
	}{{rl.Token, &l.token}, {rl.PAR, &l.par}, {rl.Login, &l.login}, {rl.Register, &l.register}, {rl.EventsPush, &l.eventsPush}, {rl.ClientAuthFailures, &l.authFailures}} {
		if e.dst.ip, err = mk(e.t.IP, "ip"); err != nil {
			return nil, fmt.Errorf("%w: rate_limits: %w", ErrConfig, err)
		}
		if e.dst.client, err = mk(e.t.Client, "client"); err != nil {
			return nil, fmt.Errorf("%w: rate_limits: %w", ErrConfig, err)
		}
		if e.dst.global, err = mk(e.t.Global, "global"); err != nil {
			return nil, fmt.Errorf("%w: rate_limits: %w", ErrConfig, err)
		}
	}
	dev := cfg.DeviceAuthorization.Effective().UserCodeFailures
	if l.deviceFailures.ip, err = mk(dev.IP, "ip"); err != nil {
		return nil, fmt.Errorf("%w: device_authorization: %w", ErrConfig, err)
	}
	if l.deviceFailures.client, err = mk(dev.Global, "global"); err != nil {
		return nil, fmt.Errorf("%w: device_authorization: %w", ErrConfig, err)
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

// clientKey is the key of the per-client tier of /token and /par. A
// public client is named, not authenticated (RFC 6749 §2.1, §10.1):
// anyone can send its client_id, so its allowance is kept per address too,
// or anyone could spend it and lock out every user of the app.
func (l *limits) clientKey(r *http.Request, c *client) string {
	if c.Public() {
		return c.ID + "\x00" + l.clientIP(r)
	}
	return c.ID
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
		s.emitRateLimited(r, endpoint, "rate_limited_"+lim.Name(), key) // block.go
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

// claimedClientID is the client_id a client-authentication attempt names
// (HTTP Basic user, else the form's client_id), unverified: it only keys
// the failure allowance of this address for that client.
func claimedClientID(r *http.Request, form url.Values) string {
	id := form.Get("client_id")
	if user, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(user); err == nil {
			id = u
		}
	}
	if len(id) > 256 { // longer client_ids are refused anyway (lookupClient)
		id = id[:256]
	}
	return id
}

// authFailureKeys are the keys of the failure allowance: the address, and
// the address with the claimed client_id. Keying the client tier by
// address too means no one can spend another network's allowance for a
// client_id (an unauthenticated caller could otherwise lock a client out).
func (l *limits) authFailureKeys(r *http.Request, id string) (ip, client string) {
	ip = l.clientIP(r)
	return "as\x00client_auth_failures\x00ip\x00" + ip, "as\x00client_auth_failures\x00client\x00" + ip + "\x00" + id
}

// authFailureTiers are the two tiers of the failure allowance with the
// request's keys; a tier turned off is left out.
func (s *Server) authFailureTiers(r *http.Request, id string) []authTier {
	ipKey, clientKey := s.limits.authFailureKeys(r, id)
	var ts []authTier
	for _, t := range []authTier{{s.limits.authFailures.ip, ipKey}, {s.limits.authFailures.client, clientKey}} {
		if t.lim != nil {
			ts = append(ts, t)
		}
	}
	return ts
}

type authTier struct {
	lim *ratelimit.Limiter
	key string
}

// clientAuthRemaining looks, before any authentication work, at the
// failures left in the allowance of the address and of the address with
// the claimed client_id (tiers, in order), and refuses an attempt whose
// allowance is spent: 429 with Retry-After, as for failed logins. A store
// that cannot answer refuses with 503 (fail closed). It writes nothing:
// only a failure spends (clientAuthFailed).
func (s *Server) clientAuthRemaining(r *http.Request, id string, tiers []authTier) ([]int, error) {
	rem := make([]int, len(tiers))
	for i, t := range tiers {
		res, err := t.lim.Peek(r.Context(), t.key)
		if err != nil {
			s.log.Error("authz: rate limit store unavailable; refusing", "endpoint", "client_auth", "err", err)
			return nil, &oauth.Error{Code: oauth.TemporarilyUnavailable, Status: http.StatusServiceUnavailable,
				Description: "the rate limiter is unavailable; try again", RetryAfter: 1}
		}
		if !res.Allowed {
			secs := res.RetryAfterSeconds()
			s.log.Info("authz: client authentication backed off", "tier", t.lim.Name(), "ip", s.limits.clientIP(r), "client_id", id, "retry_after", secs)
			s.emitRateLimited(r, "client_auth", "client_auth_backoff_"+t.lim.Name(), t.key) // block.go
			return nil, &oauth.Error{Code: oauth.RateLimited, Status: http.StatusTooManyRequests, Reason: "client_auth_backoff_" + t.lim.Name(),
				RetryAfter: secs, Description: fmt.Sprintf("too many failed client authentications; try again in %d seconds", secs)}
		}
		rem[i] = res.Remaining
	}
	return rem, nil
}

// clientAuthFailed spends one failure of each tier. The attempt is
// refused whatever happens here; a store that cannot record it is logged.
func (s *Server) clientAuthFailed(r *http.Request, tiers []authTier) {
	ctx := context.WithoutCancel(r.Context()) // a caller gone meanwhile still failed
	for _, t := range tiers {
		if _, err := t.lim.Allow(ctx, t.key); err != nil {
			s.log.Error("authz: cannot record a failed client authentication", "err", err)
		}
	}
}
