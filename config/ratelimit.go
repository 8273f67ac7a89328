package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is one tier's limit (GCRA, package ratelimit): Rate requests per
// Period on average, Burst at once. A zero Rate leaves the tier unset (a
// route then inherits the gateway's); Off turns it off.
type Rate struct {
	Rate   Count         `yaml:"rate"`
	Period time.Duration `yaml:"period"` // default 1m
	Burst  Count         `yaml:"burst"`  // default rate
	Off    bool          `yaml:"off"`
}

// Enabled reports whether the tier limits anything.
func (r Rate) Enabled() bool { return r.Rate > 0 && !r.Off }

// PeriodOrDefault is Period, or one minute.
func (r Rate) PeriodOrDefault() time.Duration {
	if r.Period <= 0 {
		return time.Minute
	}
	return r.Period
}

// RateTiers are the limits of one endpoint or route, by who is asking:
// IP for every caller (before authentication, by client address with the
// trusted-proxy rule), Client per authenticated client_id, Subject per
// authenticated user. Global counts every caller together; only
// rate_limits.register has it.
type RateTiers struct {
	IP      Rate `yaml:"ip"`
	Client  Rate `yaml:"client"`
	Subject Rate `yaml:"subject"`
	Global  Rate `yaml:"global"`
}

// Or returns t with each unset tier taken from def (a route's tiers over
// the gateway's).
func (t RateTiers) Or(def RateTiers) RateTiers {
	pick := func(a, b Rate) Rate {
		if a.Rate > 0 || a.Off {
			return a
		}
		return b
	}
	return RateTiers{IP: pick(t.IP, def.IP), Client: pick(t.Client, def.Client), Subject: pick(t.Subject, def.Subject), Global: pick(t.Global, def.Global)}
}

// RateLimits are the authorization server's limits (top-level
// rate_limits).
type RateLimits struct {
	// Token limits /token per IP and per authenticated client_id.
	Token RateTiers `yaml:"token"`
	// PAR limits /par per IP and per authenticated client_id.
	PAR RateTiers `yaml:"par"`
	// Login limits POST /login per IP.
	Login RateTiers `yaml:"login"`
	// Register limits dynamic client registration (POST /register and
	// the RFC 7592 read, update and delete) per IP, and POST /register
	// over all addresses together (Global).
	Register RateTiers `yaml:"register"`
	// EventsPush limits /events/push (pushed SETs) per IP, before the
	// signature is verified.
	EventsPush RateTiers `yaml:"events_push"`
	// LoginFailures throttles failed logins per account and per IP.
	LoginFailures LoginFailures `yaml:"login_failures"`
	// ClientAuthFailures is the allowance of failed client
	// authentications (invalid_client at /token, /par, /introspect and
	// /revoke): IP per client address, any client_id; Client per client
	// address and client_id. Once spent, every attempt of that key is
	// refused with 429 and Retry-After before any authentication work,
	// until the allowance refills.
	ClientAuthFailures RateTiers `yaml:"client_auth_failures"`
	// MaxKeys bounds the in-memory state (keys per store). Default 262144.
	MaxKeys Count `yaml:"max_keys"`
}

// LoginFailures configures the growing delays after failed logins.
type LoginFailures struct {
	// Account: failures of one username (known or not: the answer is the
	// same).
	Account FailurePolicy `yaml:"account"`
	// IP: failures from one client address, any username.
	IP FailurePolicy `yaml:"ip"`
}

// FailurePolicy: Free failures cost nothing, each further one doubles the
// wait from BaseDelay up to MaxDelay; after LockAfter failures the key is
// locked for LockFor (it expires); failures are forgotten after Forget
// without one. A successful login forgets the account's failures.
type FailurePolicy struct {
	Off       bool          `yaml:"off"`
	Free      Count         `yaml:"free"`
	BaseDelay time.Duration `yaml:"base_delay"`
	MaxDelay  time.Duration `yaml:"max_delay"`
	LockAfter Count         `yaml:"lock_after"` // 0: never lock
	LockFor   time.Duration `yaml:"lock_for"`
	Forget    time.Duration `yaml:"forget"`
}

// Count is a non-negative integer in the file.
type Count int

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Count) UnmarshalText(text []byte) error {
	n, err := strconv.Atoi(strings.TrimSpace(string(text)))
	if err != nil || n < 0 || n > 1<<30 {
		return errors.New("not a whole number between 0 and 1073741824")
	}
	*c = Count(n)
	return nil
}

// Request-rate and failure defaults of the authorization server, taken by
// a tier left unset (RateLimits.Effective); `off: true` turns one off. The
// per-IP rates are generous enough for a company behind one NAT (50
// requests a second sustained, 300 at once; docs/RATELIMITS.md) and still
// stop a flood from one address. Failed client authentications: 10 per
// address and client_id, then one every 30 s; 100 per address whatever the
// client_id, then one every 3 s.
var (
	defaultEndpointIPRate           = Rate{Rate: 3000, Period: time.Minute, Burst: 300}
	defaultClientAuthFailuresIP     = Rate{Rate: 100, Period: 5 * time.Minute, Burst: 100}
	defaultClientAuthFailuresClient = Rate{Rate: 10, Period: 5 * time.Minute, Burst: 10}
	// Registrations are rare: 30 an hour per address, 10 at once; 1000
	// an hour from all addresses together, 100 at once, so that many
	// addresses cannot fill the client table before registration.unused_ttl.
	defaultRegisterIPRate     = Rate{Rate: 30, Period: time.Hour, Burst: 10}
	defaultRegisterGlobalRate = Rate{Rate: 1000, Period: time.Hour, Burst: 100}
	// Pushed SETs come from a few gateways: 600 a minute per address,
	// 100 at once, checked before the ES256 verification.
	defaultEventsPushIPRate = Rate{Rate: 600, Period: time.Minute, Burst: 100}
)

// Effective returns rl with every unset request-rate and client-
// authentication-failure tier taken from the defaults above. A tier the
// file sets, even partly, is used as written (burst defaults to rate), so
// a partial setting never mixes with a default burst.
func (rl RateLimits) Effective() RateLimits {
	ip := RateTiers{IP: defaultEndpointIPRate}
	rl.Token = rl.Token.Or(ip)
	rl.PAR = rl.PAR.Or(ip)
	rl.Login = rl.Login.Or(ip)
	rl.Register = rl.Register.Or(RateTiers{IP: defaultRegisterIPRate, Global: defaultRegisterGlobalRate})
	rl.EventsPush = rl.EventsPush.Or(RateTiers{IP: defaultEventsPushIPRate})
	rl.ClientAuthFailures = rl.ClientAuthFailures.Or(RateTiers{IP: defaultClientAuthFailuresIP, Client: defaultClientAuthFailuresClient})
	return rl
}

// DefaultRateLimits: failed-login throttling on. The request-rate and
// client-authentication-failure tiers are left unset here and take their
// defaults in Effective, so that a partly written tier is not mixed with a
// default.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		LoginFailures: LoginFailures{
			Account: FailurePolicy{Free: 5, BaseDelay: time.Second, MaxDelay: time.Minute, LockAfter: 20, LockFor: 15 * time.Minute, Forget: time.Hour},
			IP:      FailurePolicy{Free: 20, BaseDelay: time.Second, MaxDelay: time.Minute, LockAfter: 100, LockFor: 15 * time.Minute, Forget: time.Hour},
		},
	}
}

func (v *validator) rateLimits() {
	rl := &v.c.RateLimits
	v.rateTiers("rate_limits.token", rl.Token, false)
	v.rateTiers("rate_limits.par", rl.PAR, false)
	v.rateTiers("rate_limits.login", rl.Login, false)
	v.rateTiers("rate_limits.register", rl.Register, false)
	v.rate("rate_limits.register.global", rl.Register.Global)
	if rl.Register.Client.Enabled() {
		v.add("rate_limits.register.client", ErrInvalidValue, "registration is limited per ip: there is no client yet")
	}
	v.rateTiers("rate_limits.events_push", rl.EventsPush, false)
	if rl.EventsPush.Client.Enabled() {
		v.add("rate_limits.events_push.client", ErrInvalidValue, "pushed SETs are limited per ip: the sender is known only after verification")
	}
	if rl.Login.Client.Enabled() {
		v.add("rate_limits.login.client", ErrInvalidValue, "login is limited per ip (and per account by login_failures), not per client")
	}
	v.rateTiers("rate_limits.client_auth_failures", rl.ClientAuthFailures, false)
	v.failurePolicy("rate_limits.login_failures.account", rl.LoginFailures.Account)
	v.failurePolicy("rate_limits.login_failures.ip", rl.LoginFailures.IP)
}

func (v *validator) rateTiers(path string, t RateTiers, subject bool) {
	v.rate(path+".ip", t.IP)
	v.rate(path+".client", t.Client)
	v.rate(path+".subject", t.Subject)
	if !subject && t.Subject.Enabled() {
		v.add(path+".subject", ErrInvalidValue, "there is no subject at this endpoint; use ip or client")
	}
	if t.Global.Enabled() && path != "rate_limits.register" {
		v.add(path+".global", ErrInvalidValue, "only rate_limits.register has a global tier")
	}
}

func (v *validator) rate(path string, r Rate) {
	if r.Off || (r.Rate == 0 && r.Period == 0 && r.Burst == 0) {
		return
	}
	if r.Rate == 0 {
		v.add(path+".rate", ErrMissing, "required when period or burst is set (or write off: true)")
		return
	}
	if r.Period < 0 {
		v.add(path+".period", ErrInvalidValue, "must be positive")
		return
	}
	if p := r.PeriodOrDefault(); p/time.Duration(r.Rate) < time.Millisecond {
		v.add(path+".rate", ErrInvalidValue, "%d per %v is more than one request a millisecond", r.Rate, p)
	}
	if r.Burst > 1<<20 {
		v.add(path+".burst", ErrInvalidValue, "must be at most 1048576")
	}
}

func (v *validator) failurePolicy(path string, p FailurePolicy) {
	if p.Off {
		return
	}
	v.positive(path+".base_delay", p.BaseDelay, time.Hour)
	v.positive(path+".max_delay", p.MaxDelay, 24*time.Hour)
	if p.MaxDelay < p.BaseDelay {
		v.add(path+".max_delay", ErrInvalidValue, "must be at least base_delay")
	}
	v.positive(path+".forget", p.Forget, 30*24*time.Hour)
	if p.LockAfter > 0 {
		if p.LockAfter <= p.Free {
			v.add(path+".lock_after", ErrInvalidValue, "must exceed free (%d)", p.Free)
		}
		// A lock that never expires would let an attacker deny a user
		// for good; cap it.
		v.positive(path+".lock_for", p.LockFor, 24*time.Hour)
	}
}

// gatewayRateLimits checks gateway.rate_limits and each route's.
func (v *validator) gatewayRateLimits() {
	g := &v.c.Gateway
	v.rateTiers("gateway.rate_limits", g.RateLimits, true)
	for i, r := range g.Routes {
		p := fmt.Sprintf("gateway.routes[%d].rate_limits", i)
		v.rateTiers(p, r.RateLimits, true)
		if r.Unauthenticated && (r.RateLimits.Client.Enabled() || r.RateLimits.Subject.Enabled()) {
			v.add(p, ErrInvalidValue, "an unauthenticated route knows no client or subject: only ip applies")
		}
	}
}
