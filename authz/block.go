package authz

import (
	"context"
	"net/http"
	"net/netip"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/secevent"
)

// blockedAddress refuses a request to /token or /par whose client
// address is blocked (package block, docs/EVENTS.md "Blocking"), before
// the rate limit and before the body is read: 429 blocked with
// Retry-After and X-Ward-Error. It reports whether to go on. Without
// Options.Blocks it costs nothing; the check fails open.
func (s *Server) blockedAddress(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	b := s.opts.Blocks
	if b == nil {
		return true
	}
	blk, ok := b.Check(r.Context(), ratelimit.ClientIP(r, s.limits.trusted), "")
	if !ok {
		return true
	}
	s.log.Info("authz: request blocked", "endpoint", endpoint, "kind", blk.Kind, "ip", s.limits.clientIP(r))
	s.writeEndpointError(w, r, endpoint, blk.Error(b.Now()))
	return false
}

// blockedKey is the refusal of a verified DPoP proof whose key is
// blocked, or nil.
func (s *Server) blockedKey(ctx context.Context, r *http.Request, jkt string) error {
	b := s.opts.Blocks
	if b == nil {
		return nil
	}
	blk, ok := b.Check(ctx, netip.Addr{}, jkt) // the address was checked first (blockedAddress)
	if !ok {
		return nil
	}
	s.log.Info("authz: DPoP key blocked", "jkt", jkt, "ip", s.limits.clientIP(r))
	return blk.Error(b.Now())
}

// strikeProof tells the Blocker of a refused DPoP proof. The client is
// not authenticated and the proof did not verify, so only the address
// is struck: a key named by a proof that failed proves nothing.
func (s *Server) strikeProof(r *http.Request, reason dpop.Reason) {
	if s.opts.Blocks == nil || !block.Counts(string(reason)) {
		return
	}
	s.opts.Blocks.Strike(r.Context(), block.Offence{Addr: ratelimit.ClientIP(r, s.limits.trusted), Reason: string(reason)})
}

// emitRateLimited records a 429 of a rate limit as a rate_limited event,
// at most one per endpoint, tier and key a minute (secevent.EmitOnce).
func (s *Server) emitRateLimited(r *http.Request, endpoint, reason, key string) {
	if s.opts.Events == nil {
		return
	}
	ev := secevent.Event{Type: secevent.RateLimited, Route: endpoint, Reason: reason,
		ClientAddr: ratelimit.ClientIP(r, s.limits.trusted).String()}
	s.opts.Events.EmitOnce("as\x00"+endpoint+"\x00"+reason+"\x00"+key, ev)
}
