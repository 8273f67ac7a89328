package authz

import (
	"context"
	"net/http"
	"time"

	"github.com/wardauth/ward/store"
)

// Mount serves h for the requests matching pattern (an http.ServeMux
// pattern such as "/console/") beside the server's own endpoints, behind
// the same Strict-Transport-Security header. Call it before serving; a
// pattern that clashes with an endpoint panics, as ServeMux does.
func (s *Server) Mount(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// AccountLocked reports whether failed logins have locked username's
// account in this process (rate_limits.login_failures.account.lock_after
// reached and the lock running, ratelimit.go).
func (s *Server) AccountLocked(username string) bool {
	b := s.limits.account
	key := accountKey(username)
	return b != nil && s.limits.accountLock > 0 && b.Failures(key) >= s.limits.accountLock && b.Wait(key) > 0
}

// UnlockAccount forgets username's failed logins in this process, which
// lifts its lock and its delay; it reports whether there were any. Other
// instances keep theirs (the failures are counted in memory per process).
func (s *Server) UnlockAccount(username string) bool {
	b := s.limits.account
	if b == nil {
		return false
	}
	key := accountKey(username)
	had := b.Failures(key) > 0
	b.Reset(key)
	return had
}

// EndSessionBySID ends the user subject's live login session whose sid
// is sid, as a logout would (EndUserSessions, one session); it reports
// whether there was one. The admin console's session revocation.
func EndSessionBySID(ctx context.Context, st store.Store, subject, sid string, now time.Time) (bool, error) {
	sessions, err := st.ListSessions(ctx, subject, now)
	if err != nil {
		return false, err
	}
	for _, sess := range sessions {
		if sess.SID() == sid {
			_, err := endSession(ctx, st, sess, now)
			return err == nil, err
		}
	}
	return false, nil
}
