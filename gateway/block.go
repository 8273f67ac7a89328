package gateway

import (
	"net/http"
	"net/netip"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/secevent"
)

// ReasonBlocked is the rejection reason of a request whose address or
// DPoP key is blocked (package block, docs/EVENTS.md "Blocking").
const ReasonBlocked Reason = block.Reason

// checkBlock refuses a request whose client address (jkt "") or whose
// verified token's DPoP key (jkt; the address is not checked again) is
// blocked: 429, the JSON error
// "blocked" with X-Ward-Error and Retry-After. The check fails open
// (Blocker.Check). Without Options.Blocks it costs nothing.
func (g *Gateway) checkBlock(r *http.Request, rt *route, rec *record, jkt string) *refusal {
	b := g.opts.Blocks
	if b == nil {
		return nil
	}
	var addr netip.Addr
	if jkt == "" { // the key's check comes after the address's
		addr = ratelimit.ClientIP(r, rt.limits.trusted)
	}
	blk, ok := b.Check(r.Context(), addr, jkt)
	if !ok {
		return nil
	}
	e := blk.Error(b.Now())
	rec.outcome, rec.reason = OutcomeRateLimited, ReasonBlocked
	g.metrics.rejections.WithLabelValues(string(ReasonBlocked), e.Code).Inc()
	g.logRefusal(r, "request blocked", string(ReasonBlocked), "route", rec.route, "kind", blk.Kind, "retry_after", e.RetryAfter,
		"remote", r.RemoteAddr)
	return &refusal{e: e, wardHeader: true} // X-Ward-Error: blocked
}

// strike tells the Blocker of an authentication refusal; it counts only
// the refusals of block.Counts, and the key only when the token verified
// (resource.Thumbprint is its cnf.jkt: never a key an unverified proof
// names, so nobody can get another's key blocked with forged proofs).
func (g *Gateway) strike(r *http.Request, rt *route, e *oauth.Error, err error) {
	if g.opts.Blocks == nil || !block.Counts(e.Reason) {
		return
	}
	g.opts.Blocks.Strike(r.Context(), block.Offence{Addr: ratelimit.ClientIP(r, rt.limits.trusted),
		JKT: resource.Thumbprint(err), Reason: e.Reason, Route: rt.cfg.Name})
}

// emitRateLimited records a rate-limit refusal as a rate_limited event,
// at most one per route, tier and key a minute (secevent.EmitOnce), so a
// flood of 429s cannot fill the event queue.
func (g *Gateway) emitRateLimited(r *http.Request, rt *route, tier, key string, id *resource.Identity) {
	if g.opts.Events == nil {
		return
	}
	ev := secevent.Event{Type: secevent.RateLimited, Route: rt.cfg.Name, Reason: string(reasonRateLimited) + tier,
		ClientAddr: ratelimit.ClientIP(r, rt.limits.trusted).String()}
	if id != nil {
		ev.ClientID, ev.Subject = id.ClientID, id.Subject
	}
	g.opts.Events.EmitOnce("gw\x00"+rt.cfg.Name+"\x00"+tier+"\x00"+key, ev)
}
