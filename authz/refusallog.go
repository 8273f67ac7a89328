package authz

import (
	"log/slog"
	"net/http"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/ratelimit"
)

// logRefusal writes a refusal's log line at level, at most as often as
// s.refusals allows for msg and reason (a token bucket each: a flood of
// one refusal cannot flood the log); the first line written after dropped
// ones says how many were dropped (suppressed). attrs carry the log keys
// of docs/ARCHITECTURE.md: never a token, proof, password or username.
func (s *Server) logRefusal(r *http.Request, level slog.Level, msg, reason string, attrs ...any) {
	if !s.log.Enabled(r.Context(), level) {
		return
	}
	ok, dropped := s.refusals.Allow(msg + "\x00" + reason)
	if !ok {
		return
	}
	attrs = append(attrs, "reason", reason, "ip", ratelimit.ClientIP(r, s.limits.trusted).String())
	if dropped > 0 {
		attrs = append(attrs, "suppressed", dropped)
	}
	s.log.Log(r.Context(), level, msg, attrs...)
}

// proofRefusalLevel is the level of a refused DPoP proof's line: WARN for
// what says a proof or a key leaked (a replay, RFC 9449 §11.1; a key that
// is not the bound one), DEBUG for the nonce round trip every client makes
// (§8), INFO for the rest.
func proofRefusalLevel(r dpop.Reason) slog.Level {
	switch r {
	case dpop.ReasonReplayed, dpop.ReasonKeyMismatch:
		return slog.LevelWarn
	case dpop.ReasonNonceMissing, dpop.ReasonNonceInvalid:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// logLoginFailed logs a wrong password or an unknown username, alike,
// at INFO. No login line names the username: a password typed into the
// wrong field must not reach the log.
func (s *Server) logLoginFailed(r *http.Request) {
	s.logRefusal(r, slog.LevelInfo, "login refused", loginWrongCredentials)
}

// logLoginRefused logs a sign-in refused before the password check: WARN
// once the account is locked (lock_after failures: someone is guessing),
// INFO while a failed-login delay runs.
func (s *Server) logLoginRefused(r *http.Request, locked bool) {
	if locked {
		s.logRefusal(r, slog.LevelWarn, "login refused", loginLocked)
		return
	}
	s.logRefusal(r, slog.LevelInfo, "login refused", loginThrottled)
}
