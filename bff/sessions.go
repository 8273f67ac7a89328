package bff

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/oauth"
)

// lockTTL bounds how long a session's lock is held (in Redis, a crashed
// holder's lock is freed after it).
const lockTTL = 90 * time.Second

// endGrace: the store keeps an ended session this long past its end, so
// that the app is told why it ended (idle, lifetime) rather than only
// "not logged in". load refuses it all the same.
const endGrace = 5 * time.Minute

// ttl is how long the store keeps sess: until it would end by idleness
// or by its lifetime, whichever is first, plus endGrace; zero or less
// when it has ended.
func (s *Site) ttl(sess *session, now time.Time) time.Duration {
	end := sess.Created.Add(s.cfg.Session.Lifetime)
	if idle := sess.LastSeen.Add(s.cfg.Session.IdleTimeout); idle.Before(end) {
		end = idle
	}
	if !now.Before(end) {
		return 0
	}
	return end.Sub(now) + endGrace
}

func (s *Site) put(ctx context.Context, sid string, sess *session) error {
	ttl := s.ttl(sess, s.now())
	if ttl <= 0 {
		return s.store.Delete(ctx, storeKey("sess", sid))
	}
	k := storeKey("sess", sid)
	b, err := s.seal.seal(k, sess)
	if err != nil {
		return err
	}
	return s.store.Put(ctx, k, b, ttl)
}

// load returns the session sid names, or a login_required error when it
// does not exist or has ended (and then it is deleted).
func (s *Site) load(ctx context.Context, sid string) (*session, *oauth.Error) {
	k := storeKey("sess", sid)
	b, err := s.store.Get(ctx, k)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, loginRequired("no_session", "not logged in")
	case err != nil:
		return nil, unavailable(err, "the session store cannot be reached")
	}
	var sess session
	if err := s.seal.open(k, b, &sess); err != nil {
		// Not deleted: an instance with the wrong session.key_file must
		// not end everyone's sessions. The entry expires on its own.
		s.log.Warn("bff session does not open (tampered, or session.key_file differs between instances)")
		return nil, loginRequired("no_session", "not logged in")
	}
	now := s.now()
	switch {
	case !now.Before(sess.Created.Add(s.cfg.Session.Lifetime)):
		s.forget(sid)
		_ = s.store.Delete(ctx, k)
		return nil, loginRequired("session_expired", "the session reached its lifetime; log in again")
	case !now.Before(sess.LastSeen.Add(s.cfg.Session.IdleTimeout)):
		s.forget(sid)
		_ = s.store.Delete(ctx, k)
		return nil, loginRequired("session_idle", "the session was idle too long; log in again")
	}
	return &sess, nil
}

// active returns the browser's live session, kept fresh: its last-seen
// time, a check that its grant is still alive at the authorization server
// (every grant_check_interval: a family revoked anywhere ends the session
// here), and, when needToken, an access token valid for a while longer,
// renewed with the refresh token (rotated, RFC 9700 §4.14). Updates are
// made under the session's lock and on a fresh read, so two requests of
// one session never redeem the same refresh token (which would revoke
// the family).
func (s *Site) active(ctx context.Context, r *http.Request, needToken bool) (string, *session, *oauth.Error) {
	sid := cookieID(r, s.sessName)
	if sid == "" {
		return "", nil, loginRequired("no_session", "not logged in")
	}
	sess, e := s.load(ctx, sid)
	if e != nil {
		return "", nil, e
	}
	if !s.due(sess, needToken) {
		return sid, sess, nil
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	unlock, err := s.store.Lock(lctx, storeKey("sess", sid), lockTTL)
	if err != nil {
		return "", nil, unavailable(err, "the session is busy")
	}
	defer unlock()
	// The work under the lock ends well before the lock could expire (in
	// Redis), so no other instance can take it while a refresh is in
	// flight.
	ctx, cancelWork := context.WithTimeout(ctx, lockTTL/3)
	defer cancelWork()
	if sess, e = s.load(ctx, sid); e != nil { // another request may have changed it
		return "", nil, e
	}
	u := &sessionUpdate{s: s, ctx: ctx, sid: sid, sess: sess}
	now := s.now()
	if now.Sub(sess.GrantChecked) >= s.cfg.Session.GrantCheckInterval {
		if e := u.checkGrant(now); e != nil {
			return "", nil, e
		}
	}
	if needToken && !now.Add(refreshMargin).Before(sess.Expiry) {
		if e := u.renew(now); e != nil {
			return "", nil, e
		}
	}
	sess.LastSeen = now
	if err := s.put(ctx, sid, sess); err != nil {
		return "", nil, unavailable(err, "the session store cannot be reached")
	}
	return sid, sess, nil
}

// sessionUpdate is the work of active on one session under its lock:
// the grant check and the token renewal, with the site's OAuth client
// for the session's key made at most once.
type sessionUpdate struct {
	s    *Site
	ctx  context.Context
	sid  string
	sess *session
	cl   *client.Client
}

// client is the OAuth client holding the session's DPoP key.
func (u *sessionUpdate) client() (*client.Client, *oauth.Error) {
	if u.cl != nil {
		return u.cl, nil
	}
	key, err := parseKey(u.sess.Key)
	if err != nil {
		return nil, unavailable(err, "cannot read the session's key")
	}
	if u.cl, err = u.s.oauthClient(u.ctx, key); err != nil {
		return nil, unavailable(err, "the authorization server cannot be reached")
	}
	return u.cl, nil
}

// end deletes the session and says why the user must log in again.
func (u *sessionUpdate) end(reason, desc string) *oauth.Error {
	_ = u.s.store.Delete(u.ctx, storeKey("sess", u.sid))
	u.s.forget(u.sid)
	u.s.log.Info("bff session ended", "sub", u.sess.Subject, "reason", reason)
	return loginRequired(reason, desc)
}

// checkGrant asks the authorization server whether the session's grant
// is still alive (RFC 7662): a revoked family ends the session here.
func (u *sessionUpdate) checkGrant(now time.Time) *oauth.Error {
	c, e := u.client()
	if e != nil {
		return e
	}
	tok, hint := u.sess.RefreshToken, oauth.HintRefreshToken
	if tok == "" {
		tok, hint = u.sess.AccessToken, oauth.HintAccessToken
	}
	in, err := c.Introspect(u.ctx, tok, hint)
	switch {
	case err == nil && !in.Active:
		return u.end("grant_revoked", "the login was revoked; log in again")
	case err == nil:
		u.sess.GrantChecked = now
	default:
		// The authorization server is unreachable: the session goes on
		// with the token it has (bounded by the token's expiry) and the
		// check is tried again on the next request.
		u.s.log.Warn("bff grant check failed", "sub", u.sess.Subject, "err", err)
	}
	return nil
}

// renew replaces the session's access token with the refresh token
// (rotated, RFC 9700 §4.14).
func (u *sessionUpdate) renew(now time.Time) *oauth.Error {
	s, sess := u.s, u.sess
	if sess.RefreshToken == "" {
		return u.end("token_expired", "the access token expired and cannot be renewed; log in again")
	}
	c, e := u.client()
	if e != nil {
		return e
	}
	tok, err := c.Refresh(u.ctx, sess.RefreshToken)
	var re *client.RetrieveError
	switch {
	case errors.As(err, &re) && re.ErrorCode == oauth.InvalidGrant:
		s.event("refresh", "refused")
		return u.end("grant_revoked", "the login can no longer be renewed; log in again")
	case errors.As(err, &re) && re.ErrorCode == oauth.InvalidClient:
		// The site's own credentials are refused (a rotated secret?): a
		// configuration error, not the user's; the session is kept.
		s.event("refresh", "client_refused")
		s.log.Error("bff refresh: the authorization server refuses this site's client authentication; check client_id and client_secret_file", "client_id", s.cfg.ClientID)
		return unavailable(err, "the access token cannot be renewed now")
	case err != nil:
		s.event("refresh", "unavailable")
		return unavailable(err, "the access token cannot be renewed now")
	}
	s.event("refresh", "ok")
	sess.AccessToken, sess.RefreshToken, sess.Expiry = tok.AccessToken, tok.RefreshToken, tok.Expiry
	sess.GrantChecked = now
	return nil
}

// due reports whether sess needs an update before use.
func (s *Site) due(sess *session, needToken bool) bool {
	now := s.now()
	return now.Sub(sess.LastSeen) >= touchEvery ||
		now.Sub(sess.GrantChecked) >= s.cfg.Session.GrantCheckInterval ||
		needToken && !now.Add(refreshMargin).Before(sess.Expiry)
}

// user answers who is logged in: the subject, the username (when the
// authorization server told it at login, RFC 7662 §2.2; "" otherwise),
// the granted scope and when the session ends. Never a token.
func (s *Site) user(w http.ResponseWriter, r *http.Request) {
	if e := s.checkRequest(r); e != nil {
		s.fail(w, r, "user", e)
		return
	}
	_, sess, e := s.active(r.Context(), r, false)
	if e != nil {
		s.fail(w, r, "user", e)
		return
	}
	s.event("user", "ok")
	ends := sess.Created.Add(s.cfg.Session.Lifetime)
	out := map[string]any{
		"authenticated":    true,
		"sub":              sess.Subject,
		"username":         sess.Username,
		"scope":            sess.Scope,
		"session_ends_at":  ends.UTC().Format(time.RFC3339),
		"idle_timeout_sec": int(s.cfg.Session.IdleTimeout / time.Second),
	}
	if u := sess.User; u != nil {
		// From the verified ID token (OpenID Connect sites).
		for k, v := range map[string]string{"name": u.Name, "preferred_username": u.PreferredUsername, "email": u.Email} {
			if v != "" {
				out[k] = v
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// logout ends the session here and its grant at the authorization server
// (RFC 7009: revoking the refresh token revokes the whole family, and
// with it the access tokens), and clears the cookie. The session is gone
// even when the authorization server cannot be reached; the answer says
// whether the grant was revoked.
func (s *Site) logout(w http.ResponseWriter, r *http.Request) {
	if e := s.checkRequest(r); e != nil {
		s.fail(w, r, "logout", e)
		return
	}
	ctx := r.Context()
	s.setCookie(w, s.sessName, "", 0, s.sameSite)
	revoked, redirect := false, s.cfg.AfterLogout
	if sid := cookieID(r, s.sessName); sid != "" {
		s.forget(sid)
		k := storeKey("sess", sid)
		b, err := s.store.Take(ctx, k)
		var sess session
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			s.fail(w, r, "logout", unavailable(err, "the session store cannot be reached; try again"))
			return
		case s.seal.open(k, b, &sess) == nil:
			revoked = s.revoke(ctx, &sess)
			if ep, err := s.endpoint(ctx); err == nil {
				if u := s.endSession(ep, &sess); u != "" {
					redirect = u
				}
			}
			s.log.Info("bff logout", "sub", sess.Subject, "grant_revoked", revoked, "end_session", redirect != s.cfg.AfterLogout)
		}
	}
	s.event("logout", "ok")
	w.Header().Set("Content-Type", "application/json")
	// redirect: where the app sends the browser, the issuer's
	// end_session_endpoint for an OpenID Connect site (RP-Initiated
	// Logout 1.0), so that the login at the issuer ends too.
	_ = json.NewEncoder(w).Encode(map[string]any{"logged_out": true, "grant_revoked": revoked, "redirect": redirect})
}

// revoke revokes the session's grant: the refresh token (its family) and
// the access token.
func (s *Site) revoke(ctx context.Context, sess *session) bool {
	key, err := parseKey(sess.Key)
	if err != nil {
		return false
	}
	cl, err := s.oauthClient(ctx, key)
	if err != nil {
		s.log.Warn("bff logout: cannot reach the authorization server", "err", err)
		return false
	}
	ok := true
	if sess.RefreshToken != "" {
		if err := cl.Revoke(ctx, sess.RefreshToken, oauth.HintRefreshToken); err != nil {
			s.log.Warn("bff logout: refresh token not revoked", "sub", sess.Subject, "err", err)
			ok = false
		}
	}
	if err := cl.Revoke(ctx, sess.AccessToken, oauth.HintAccessToken); err != nil {
		s.log.Warn("bff logout: access token not revoked", "sub", sess.Subject, "err", err)
		ok = false
	}
	return ok
}
