package gateway

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/resource"
)

// revocationList is Options.Revocations as the resource's interface, nil
// when unset (never a typed nil).
func (g *Gateway) revocationList() resource.RevocationList {
	if g.opts.Revocations == nil {
		return nil
	}
	return g.opts.Revocations
}

// registerRevocationMetrics exports the revocation set's size and the
// time of its last sync.
func (g *Gateway) registerRevocationMetrics(reg *prometheus.Registry) {
	set := g.opts.Revocations
	if set == nil {
		return
	}
	_ = reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "ward", Subsystem: "gateway", Name: "revocations",
		Help: "Revoked access tokens and grants held by the gateway (docs/GATEWAY.md, revocation feed).",
	}, func() float64 { return float64(set.Len()) }))
	_ = reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "ward", Subsystem: "gateway", Name: "revocation_feed_last_sync_timestamp_seconds",
		Help: "When the revocation feed last synced (0: never); alert when it falls behind gateway.revocations.stale_after.",
	}, func() float64 {
		_, last := set.Stale()
		if last.IsZero() {
			return 0
		}
		return float64(last.UnixNano()) / 1e9
	}))
}

// revocationReadiness is the revocation feed's part of /readyz: ready
// false when the feed is stale and the gateway refuses tokens for it; a
// note when it is stale but the gateway serves anyway.
func (g *Gateway) revocationReadiness() (ready bool, note string) {
	set := g.opts.Revocations
	if set == nil {
		return true, ""
	}
	stale, last := set.Stale()
	if !stale {
		return true, ""
	}
	since := "never synced"
	if !last.IsZero() {
		since = "last synced " + last.UTC().Format(time.RFC3339)
	}
	if set.ServeStale() {
		return true, fmt.Sprintf("revocation feed stale (%s); serving without it (on_stale: serve)", since)
	}
	return false, fmt.Sprintf("revocation feed stale (%s); refusing tokens", since)
}
