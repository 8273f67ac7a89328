package gateway

import (
	"net/http"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/secevent"
)

// emitRefusal turns an authentication refusal into a security event
// (docs/EVENTS.md): a leaked token, a replayed proof, a stale nonce or a
// failed client certificate. Only refusals reach it: an accepted request
// emits nothing and costs nothing here.
func (g *Gateway) emitRefusal(r *http.Request, rt *route, e *oauth.Error, err error) {
	if g.opts.Events == nil {
		return
	}
	ev := secevent.Event{Route: rt.cfg.Name, Reason: e.Reason, JKT: resource.Thumbprint(err)}
	if leak, ok := resource.Leaked(err); ok {
		ev.Type, ev.ClientID, ev.Subject, ev.JKT = secevent.TokenLeaked, leak.ClientID, leak.Subject, leak.JKT
		// grant_id names a Ward family only in a token Ward issued: a
		// foreign issuer's claim of that name must not revoke anything.
		if leak.Issuer == g.fixed.issuer {
			ev.FamilyID = leak.GrantID
		}
	} else {
		switch e.Reason {
		case string(dpop.ReasonReplayed):
			ev.Type = secevent.ProofReplayed
		case string(dpop.ReasonNonceInvalid):
			ev.Type = secevent.NonceFailure // a missing nonce is the normal round trip: no event
		case resource.ReasonCertInvalid, resource.ReasonCertMismatch:
			ev.Type = secevent.CertFailed
		default:
			return
		}
	}
	ev.ClientAddr = ratelimit.ClientIP(r, rt.limits.trusted).String()
	g.opts.Events.Emit(ev)
}

// emitDenial records a policy denial of a verified caller.
func (g *Gateway) emitDenial(r *http.Request, rt *route, reason string, id *resource.Identity) {
	if g.opts.Events == nil {
		return
	}
	g.opts.Events.Emit(secevent.Event{Type: secevent.PolicyDenied, Route: rt.cfg.Name, Reason: reason,
		ClientID: id.ClientID, Subject: id.Subject, JKT: id.JKT, ClientAddr: ratelimit.ClientIP(r, rt.limits.trusted).String()})
}
