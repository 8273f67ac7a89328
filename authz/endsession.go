package authz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// Paths of RP-Initiated Logout 1.0 (docs/OIDC.md).
const (
	// PathEndSessionConfirm receives the confirmation form (§2: the OP
	// asks the user whether to log out when the request does not prove
	// the RP acts for the session's user).
	PathEndSessionConfirm = "/end_session/confirm"
)

// endSessionRequest holds the parameters of RP-Initiated Logout 1.0 §2.
// ui_locales picks the pages' language (OIDC Core §3.1.2.1, as at
// /authorize); logout_hint is accepted and not used (the session ended is the
// browser's own, whoever it names).
type endSessionRequest struct {
	IDTokenHint           string
	LogoutHint            string
	ClientID              string
	PostLogoutRedirectURI string
	State                 string
	UILocales             string
}

// parseEndSession reads an end-session request's parameters, already
// decoded by parseParams (each at most once, empty ones dropped). Other
// parameters are ignored (§2).
func parseEndSession(v url.Values) *endSessionRequest {
	return &endSessionRequest{
		IDTokenHint:           v.Get("id_token_hint"),
		LogoutHint:            v.Get("logout_hint"),
		ClientID:              v.Get("client_id"),
		PostLogoutRedirectURI: v.Get("post_logout_redirect_uri"),
		State:                 v.Get("state"),
		UILocales:             v.Get("ui_locales"),
	}
}

// endSessionParams reads the parameters of a GET (query) or POST (form
// body) request (§2: the OP MUST support both).
func endSessionParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	switch r.Method {
	case http.MethodGet:
		return parseParams(r.URL.RawQuery)
	case http.MethodPost:
		return readForm(w, r)
	}
	w.Header().Set("Allow", "GET, POST")
	return nil, &oauth.Error{Code: oauth.InvalidRequest, Description: "use GET or POST", Status: http.StatusMethodNotAllowed}
}

// logoutRequest is a validated end-session request.
type logoutRequest struct {
	client *client     // nil when neither the hint nor client_id names one
	hint   *hintClaims // nil without id_token_hint
	// redirect is the validated post_logout_redirect_uri ("" for none);
	// state goes back only with it.
	redirect, state string
	// locales are ui_locales' well-formed tags, for the pages.
	locales []string
}

// checkEndSession validates a request (§2, §3): the id_token_hint is an
// ID token of this server, client_id agrees with its audience, and
// post_logout_redirect_uri is one the client registered, compared
// exactly. Any failure refuses the whole request: the OP MUST NOT
// redirect to an unvalidated URI (§3), and does not log out on a request
// it cannot read.
func (s *Server) checkEndSession(ctx context.Context, req *endSessionRequest) (*logoutRequest, error) {
	lr := &logoutRequest{locales: parseUILocales(req.UILocales)}
	clientID := req.ClientID
	if req.IDTokenHint != "" {
		h, err := s.verifyIDTokenHint(req.IDTokenHint, s.now())
		if err != nil {
			return nil, oauth.New(oauth.InvalidRequest, "the id_token_hint is not an ID token issued here")
		}
		if clientID != "" && clientID != h.clientID() {
			return nil, oauth.New(oauth.InvalidRequest, "client_id does not match the id_token_hint's audience")
		}
		lr.hint, clientID = h, h.clientID()
	}
	if clientID != "" {
		c, err := s.clients.get(ctx, clientID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, oauth.New(oauth.InvalidRequest, "unknown client")
		}
		if err != nil {
			return nil, oauth.Wrap(err, "cannot read the client")
		}
		lr.client = c
	}
	if u := req.PostLogoutRedirectURI; u != "" {
		// §3: exact match to a registered URI, which needs a client; no
		// loopback port exception (a post-logout redirect is never a native
		// app's ephemeral listener that registration cannot name).
		if lr.client == nil || !matchRedirectURI(lr.client.PostLogoutRedirectURIs, u, false) {
			return nil, oauth.New(oauth.InvalidRequest, "post_logout_redirect_uri is not registered for this client")
		}
		lr.redirect, lr.state = u, req.State
	}
	return lr, nil
}

// hintMatches reports whether the id_token_hint names the browser's
// session: its sid is the session's as the client sees it (clientSID)
// and so is its sub, or, without sid, its sub is. Otherwise the user confirms.
func (s *Server) hintMatches(lr *logoutRequest, sess *store.Session) bool {
	h := lr.hint
	switch {
	case h == nil || lr.client == nil:
		return false
	case h.SID != "":
		sid := s.clientSID(lr.client.Client, sess.SID())
		return sid != "" && h.SID == sid && h.Subject == s.subjectFor(lr.client.Client, sess.Subject)
	default:
		sub := s.subjectFor(lr.client.Client, sess.Subject)
		return sub != "" && h.Subject == sub
	}
}

// handleEndSession is the end_session_endpoint (RP-Initiated Logout 1.0
// §2): parse → validate → log out at once when the hint proves the RP
// acts for this session, else ask the user → redirect or signed-out page.
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) {
	v, err := endSessionParams(w, r)
	if err != nil {
		s.endSessionRefused(w, r, oauth.As(err))
		return
	}
	lr, err := s.checkEndSession(r.Context(), parseEndSession(v))
	if err != nil {
		s.endSessionRefused(w, r, oauth.As(err))
		return
	}
	sess, ok := s.endSessionOf(w, r)
	switch {
	case !ok:
	case sess == nil:
		s.bc.endSession[esNoSession].Inc()
		s.logoutDone(w, r, lr)
	case s.hintMatches(lr, sess):
		s.logoutAndFinish(w, r, sess, lr)
	default:
		s.renderLogoutConfirm(w, r, sess, lr)
	}
}

// endSessionOf is the browser's login session (nil for none); when the
// store cannot say, it shows the 503 page and returns false: never the
// signed-out page or the redirect, which would tell the user and the RP
// that a session ended which lives on.
func (s *Server) endSessionOf(w http.ResponseWriter, r *http.Request) (*store.Session, bool) {
	sess, _, err := s.readSession(r)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, oauth.Wrap(err, "cannot read the session"))
		return nil, false
	}
	return sess, true
}

// endSessionRefused shows the refusal on an error page: never a redirect
// (§3, §4).
func (s *Server) endSessionRefused(w http.ResponseWriter, r *http.Request, e *oauth.Error) {
	s.bc.endSession[esRefused].Inc()
	status := e.Status
	if status == 0 || status < 400 {
		status = http.StatusBadRequest
	}
	s.errorPage(w, r, status, e)
}

// logoutAndFinish ends sess and sends the browser on.
func (s *Server) logoutAndFinish(w http.ResponseWriter, r *http.Request, sess *store.Session, lr *logoutRequest) {
	if err := s.logoutSession(r.Context(), sess); err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, oauth.Wrap(err, "cannot end the session"))
		return
	}
	s.setCookie(w, SessionCookie, "", -1)
	s.bc.endSession[esLoggedOut].Inc()
	s.logoutDone(w, r, lr)
}

// logoutDone redirects to the validated post_logout_redirect_uri with
// state (§3), or shows the signed-out page.
func (s *Server) logoutDone(w http.ResponseWriter, r *http.Request, lr *logoutRequest) {
	if lr.redirect != "" {
		to := lr.redirect
		if lr.state != "" {
			to = appendParams(to, url.Values{"state": {lr.state}})
		}
		s.redirect(w, r, to)
		return
	}
	s.render(w, page{name: "signed_out.html", status: http.StatusOK, lang: pageLanguage(r, lr.locales), title: "signed_out_title",
		data: map[string]any{"Kept": false}})
}

// logoutSession ends a login session of this server's browser (endSession)
// and wakes the back-channel delivery.
func (s *Server) logoutSession(ctx context.Context, sess *store.Session) error {
	queued, err := endSession(ctx, s.st, sess, s.now())
	if queued > 0 {
		s.kickBackchannel()
	}
	return err
}

// EndUserSessions ends every live login session of the user subject as a
// logout of each would (docs/OIDC.md): back-channel logout queued in the
// store's outbox, which a running server delivers (Server.Run), the
// grants of clients with logout_revokes_grants revoked, the sessions
// deleted. It returns how many sessions it ended. `ward user logout`
// calls it: an administrator's session revocation.
func EndUserSessions(ctx context.Context, st store.Store, subject string, now time.Time) (int, error) {
	sessions, err := st.ListSessions(ctx, subject, now)
	if err != nil {
		return 0, err
	}
	for i, sess := range sessions {
		if _, err := endSession(ctx, st, sess, now); err != nil {
			return i, err
		}
	}
	return len(sessions), nil
}

// endSession ends a login session: the back-channel deliveries of the
// clients with a grant from the session go to the durable outbox first,
// then the grants of clients with logout_revokes_grants are revoked, then
// the session is deleted. A failure leaves the session in place, so the
// user can try again; a repeat enqueues again (a receiver takes a logout
// twice alike). It returns how many deliveries it queued.
func endSession(ctx context.Context, st store.Store, sess *store.Session, now time.Time) (int, error) {
	sid := sess.SID()
	fams, err := st.ListFamiliesBySID(ctx, sid)
	if err != nil {
		return 0, err
	}
	clients := map[string]*store.Client{}
	var ds []*store.LogoutDelivery
	for _, f := range fams {
		if _, seen := clients[f.ClientID]; seen {
			continue
		}
		c, err := st.GetClient(ctx, f.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			clients[f.ClientID] = nil
			continue
		}
		if err != nil {
			return 0, err
		}
		clients[f.ClientID] = c
		if c.BackchannelLogoutURI != "" {
			ds = append(ds, &store.LogoutDelivery{ID: randomToken(16), ClientID: c.ID, Subject: sess.Subject, SID: sid,
				NextAt: now, CreatedAt: now, ExpiresAt: now.Add(backchannelRetention)})
		}
	}
	if err := st.EnqueueLogouts(ctx, ds); err != nil {
		return 0, err
	}
	for _, f := range fams {
		if c := clients[f.ClientID]; c != nil && c.LogoutRevokesGrants && f.RevokedAt.IsZero() {
			if err := st.RevokeFamily(ctx, f.ID, "logout", now); err != nil && !errors.Is(err, store.ErrNotFound) {
				return len(ds), err
			}
		}
	}
	return len(ds), st.DeleteSession(ctx, sess.Hash)
}

// logoutState is what the confirmation form carries, sealed (AES-GCM
// under the flow key, as the authorization flow): the validated request
// and the sid of the session the user is asked about.
type logoutState struct {
	ClientID string   `json:"c,omitempty"`
	Redirect string   `json:"r,omitempty"`
	State    string   `json:"s,omitempty"`
	SID      string   `json:"sid"`
	Locales  []string `json:"l,omitempty"`
	Created  int64    `json:"t"`
	ID       string   `json:"i"`
}

var errBadLogoutState = errors.New("authz: logout confirmation is invalid or expired")

func (s *Server) sealLogout(st *logoutState) (string, error) {
	return s.seal(st, "end_session")
}

func (s *Server) openLogout(sealed string) (*logoutState, error) {
	var st logoutState
	if !s.unseal(sealed, "end_session", &st) || st.ID == "" || s.now().After(time.Unix(st.Created, 0).Add(flowTTL)) {
		return nil, errBadLogoutState
	}
	return &st, nil
}

// renderLogoutConfirm asks the user whether to sign out of sess. Nothing
// is ended until the form comes back with its CSRF token (tied to the
// browser cookie and to this confirmation).
func (s *Server) renderLogoutConfirm(w http.ResponseWriter, r *http.Request, sess *store.Session, lr *logoutRequest) {
	st := &logoutState{Redirect: lr.redirect, State: lr.state, SID: sess.SID(), Locales: lr.locales, Created: s.now().Unix(), ID: randomToken(16)}
	if lr.client != nil {
		st.ClientID = lr.client.ID
	}
	sealed, err := s.sealLogout(st)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, oauth.Wrap(err, "cannot seal the confirmation"))
		return
	}
	bid := s.browserID(w, r)
	s.bc.endSession[esConfirm].Inc()
	s.render(w, page{name: "logout_confirm.html", status: http.StatusOK, lang: pageLanguage(r, lr.locales), title: "logout_title",
		formTarget: formActionSource(lr.redirect), client: lr.client, data: map[string]any{
			"Logout": sealed,
			"CSRF":   s.csrfToken("logout", bid, st.ID),
			"Action": s.url(PathEndSessionConfirm),
		}})
}

// handleEndSessionConfirm takes the confirmation form: CSRF checked, then
// the session ended if the user chose to and it is still the one they
// were asked about (else they are asked again).
func (s *Server) handleEndSessionConfirm(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(w, r)
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, oauth.As(err))
		return
	}
	st, err := s.openLogout(form.Get("logout"))
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, oauth.New(oauth.InvalidRequest, "this sign-out request is invalid or has expired; start again"))
		return
	}
	if !s.checkCSRF(form.Get("csrf"), "logout", s.cookie(r, BrowserCookie), st.ID) {
		s.errorPage(w, r, http.StatusForbidden, oauth.New(oauth.InvalidRequest, "the form has expired or was not sent from this browser; go back and try again"))
		return
	}
	lr, err := s.checkEndSession(r.Context(), &endSessionRequest{ClientID: st.ClientID, PostLogoutRedirectURI: st.Redirect, State: st.State, UILocales: strings.Join(st.Locales, " ")})
	if err != nil { // the client changed since the page was shown
		s.endSessionRefused(w, r, oauth.As(err))
		return
	}
	sess, ok := s.endSessionOf(w, r)
	switch {
	case !ok:
	case form.Get("decision") != "logout":
		s.bc.endSession[esKept].Inc()
		s.render(w, page{name: "signed_out.html", status: http.StatusOK, lang: pageLanguage(r, lr.locales), title: "still_signed_in_title",
			data: map[string]any{"Kept": true}})
	case sess == nil:
		s.logoutDone(w, r, lr)
	case sess.SID() != st.SID:
		s.renderLogoutConfirm(w, r, sess, lr)
	default:
		s.logoutAndFinish(w, r, sess, lr)
	}
}

// Outcomes of ward_authz_end_session_total.
const (
	esLoggedOut = "logged_out"         // a session ended
	esConfirm   = "confirmation_shown" // the user was asked
	esKept      = "kept"               // the user chose to stay signed in
	esNoSession = "no_session"         // nothing to end
	esRefused   = "refused"            // invalid request: error page
)

var esOutcomes = []string{esLoggedOut, esConfirm, esKept, esNoSession, esRefused}

func endSessionCounters(b *backchannel, reg *prometheus.Registry) error {
	v, err := counterVec(reg, "end_session_total",
		"Requests of the end_session endpoint and its confirmation (RP-Initiated Logout 1.0), by outcome: "+
			"logged_out, confirmation_shown, kept, no_session, refused.", "outcome")
	if err != nil {
		return fmt.Errorf("end_session_total: %w", err)
	}
	b.endSession = map[string]prometheus.Counter{}
	for _, o := range esOutcomes {
		b.endSession[o] = v.WithLabelValues(o)
	}
	return nil
}
