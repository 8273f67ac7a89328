package authz

import (
	"net/http"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/secevent"
)

// emit sends a security event of the request r (docs/EVENTS.md), with the
// client's address filled in. Options.Events nil: nothing.
func (s *Server) emit(r *http.Request, ev secevent.Event) {
	if s.opts.Events == nil {
		return
	}
	if r != nil {
		ev.ClientAddr = ratelimit.ClientIP(r, s.limits.trusted).String()
	}
	s.opts.Events.Emit(ev)
}

// emitLoginFailed records a failed login, and the account (or address)
// lock it may have caused. The username typed is never recorded: people
// type passwords into it.
func (s *Server) emitLoginFailed(r *http.Request, c *client, username string) {
	if s.opts.Events == nil {
		return
	}
	var clientID string
	if c != nil {
		clientID = c.ID
	}
	s.emit(r, secevent.Event{Type: secevent.LoginFailed, ClientID: clientID, Reason: "wrong_credentials"})
	if s.limits.loginLocked(r, username) {
		s.emit(r, secevent.Event{Type: secevent.AccountLocked, ClientID: clientID, Reason: "failed_logins"})
	}
}

// emitProofRefused records a DPoP proof refused at /token or /par for a
// reason worth an event: a replayed proof, or a stale or foreign nonce.
// A missing nonce is the normal round trip (RFC 9449 §8) and emits
// nothing. The client is not authenticated yet, so the event names the
// address only.
func (s *Server) emitProofRefused(r *http.Request, reason dpop.Reason) {
	var typ secevent.Type
	switch reason {
	case dpop.ReasonReplayed:
		typ = secevent.ProofReplayed
	case dpop.ReasonNonceInvalid:
		typ = secevent.NonceFailure
	default:
		return
	}
	s.emit(r, secevent.Event{Type: typ, Reason: string(reason)})
}
