package gateway

import (
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/resource"
)

// rateLimiting holds what outlives a configuration generation: the
// store (so a reload keeps every key's state) and the metric.
type rateLimiting struct {
	store   ratelimit.Store
	clock   func() time.Time
	limited *prometheus.CounterVec
}

func newRateLimiting(store ratelimit.Store, clock func() time.Time, reg *prometheus.Registry) *rateLimiting {
	if store == nil {
		store = ratelimit.NewMemoryStore(0)
	}
	rl := &rateLimiting{store: store, clock: clock, limited: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "ward", Subsystem: "gateway", Name: "rate_limited_total",
		Help: "Requests refused with 429 by route and tier (ip, client, subject).",
	}, []string{"route", "tier"})}
	reg.MustRegister(rl.limited)
	return rl
}

// routeLimits are a route's limiters by tier; nil when a tier is off.
type routeLimits struct {
	ip, client, subject *ratelimit.Limiter
	trusted             []netip.Prefix // X-Forwarded-For is read only from these
}

// buildLimits compiles the route's tiers (its own over the gateway's).
func (rl *rateLimiting) buildLimits(cfg *config.Gateway, rc *config.Route) (routeLimits, error) {
	t := rc.RateLimits.Or(cfg.RateLimits)
	lim := routeLimits{trusted: cfg.BehindTLSProxy.TrustedProxies}
	for _, x := range []struct {
		name string
		r    config.Rate
		dst  **ratelimit.Limiter
	}{{"ip", t.IP, &lim.ip}, {"client", t.Client, &lim.client}, {"subject", t.Subject, &lim.subject}} {
		if !x.r.Enabled() || (rc.Unauthenticated && x.name != "ip") {
			continue
		}
		l, err := ratelimit.New(rl.store, ratelimit.Limit{Rate: int(x.r.Rate), Period: x.r.PeriodOrDefault(), Burst: int(x.r.Burst)},
			ratelimit.WithName(x.name), ratelimit.WithClock(rl.clock))
		if err != nil {
			return lim, fmt.Errorf("rate_limits.%s: %w", x.name, err)
		}
		*x.dst = l
	}
	return lim, nil
}

// limit applies the route's tiers: the ip tier before authentication (id
// nil), the client and subject tiers after it. Allowed requests get the
// RateLimit headers in resp; a refused one gets 429 rate_limited with
// Retry-After in the OAuth JSON error format, and a store that cannot
// answer (Redis down) 503: the limiter fails closed. It returns the
// refusal, or nil to go on.
func (g *Gateway) limit(r *http.Request, rt *route, rec *record, id *resource.Identity, resp http.Header) *refusal {
	lim := &rt.limits
	type tier struct {
		name, key string
		l         *ratelimit.Limiter
	}
	var tiers [2]tier
	n := 0
	if id == nil {
		if lim.ip != nil {
			ip := ratelimit.ClientIP(r, lim.trusted)
			tiers[0], n = tier{"ip", ratelimit.IPKey(ip), lim.ip}, 1
		}
	} else {
		if lim.client != nil && id.ClientID != "" {
			tiers[n], n = tier{"client", id.ClientID, lim.client}, n+1
		}
		if lim.subject != nil && id.Subject != "" {
			tiers[n], n = tier{"subject", id.Subject, lim.subject}, n+1
		}
	}
	if n == 0 {
		return nil
	}
	var h ratelimit.Headers
	for _, t := range tiers[:n] {
		// Each route counts apart.
		res, err := t.l.Allow(r.Context(), "gw\x00"+rt.cfg.Name+"\x00"+t.name+"\x00"+t.key)
		if err != nil {
			rec.outcome, rec.reason = OutcomeError, ReasonRateLimitStore
			g.log.Error("rate limit store unavailable; refusing", "route", rec.route, "tier", t.name, "err", err)
			return &refusal{e: &oauth.Error{Code: oauth.TemporarilyUnavailable, Status: http.StatusServiceUnavailable,
				Description: "the rate limiter is unavailable; try again", RetryAfter: 1, Reason: string(rec.reason)}}
		}
		h.Add(t.name, res)
		if !res.Allowed {
			rec.outcome, rec.reason = OutcomeRateLimited, reasonRateLimited+Reason(t.name)
			g.metrics.rejections.WithLabelValues(string(rec.reason), oauth.RateLimited).Inc()
			g.rl.limited.WithLabelValues(rt.cfg.Name, t.name).Inc()
			g.logRefusal(r, "request rate limited", string(rec.reason), "route", rec.route, "tier", t.name, "key", t.key,
				"retry_after", res.RetryAfterSeconds(), "remote", r.RemoteAddr)
			g.emitRateLimited(r, rt, t.name, t.key, id) // block.go
			h.Write(resp)
			return &refusal{e: &oauth.Error{Code: oauth.RateLimited, Status: http.StatusTooManyRequests, Reason: string(rec.reason),
				RetryAfter:  res.RetryAfterSeconds(),
				Description: fmt.Sprintf("too many requests; try again in %d seconds", res.RetryAfterSeconds())}}
		}
	}
	h.Write(resp)
	return nil
}
