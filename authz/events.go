package authz

import (
	"net/http"

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
