package authz

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// proceed takes a validated flow as far as it can go: to the login page
// when the session will not do (needsLogin), to the consent page when the
// user has not granted every requested scope to the client (or
// prompt=consent, or the client's redirect URI cannot prove its identity:
// consentEveryTime), else straight to the client with a code. prompt=none
// never shows a page: login_required or consent_required, sent to the
// redirect URI with iss and state (OIDC Core §3.1.2.6, RFC 9207).
func (s *Server) proceed(w http.ResponseWriter, r *http.Request, f *flow, c *client) {
	sess, _ := s.session(r)
	if why := s.needsLogin(f, c, sess); why != "" {
		if hasPrompt(f.Req.Prompt, oauth.PromptNone) {
			s.authorizeError(w, r, redirectErr(&f.Req, oauth.New(oauth.LoginRequired, "%s", why)))
			return
		}
		s.toPage(w, r, PathLogin, f)
		return
	}
	if f.Req.HintSub != "" && s.subjectFor(c.Client, sess.Subject) != f.Req.HintSub {
		// OIDC Core §3.1.2.1: a positive answer only for the user the
		// id_token_hint (or the claims request's sub) names; someone else
		// logged in during this flow.
		s.authorizeError(w, r, redirectErr(&f.Req, oauth.New(oauth.LoginRequired, "the user who logged in is not the one the request names")))
		return
	}
	consented, err := s.consented(r, sess.Subject, c.ID, f.Req.Scope)
	if err != nil {
		s.authorizeError(w, r, redirectErr(&f.Req, oauth.Wrap(err, "cannot read consent")))
		return
	}
	if !consented || hasPrompt(f.Req.Prompt, oauth.PromptConsent) || c.consentEveryTime(f.Req.RedirectURI) {
		if hasPrompt(f.Req.Prompt, oauth.PromptNone) {
			s.authorizeError(w, r, redirectErr(&f.Req, oauth.New(oauth.ConsentRequired, "the user has not consented")))
			return
		}
		s.toPage(w, r, PathConsent, f)
		return
	}
	s.issueCode(w, r, &f.Req, sess)
}

// needsLogin returns why the flow needs a login, or "" when the session
// will do. A login made during this flow always does. Before it, the
// session must exist and must not be older than max_age (or the client's
// default_max_age, OIDC Core §3.1.2.1) nor predate a prompt=login or
// select_account (Ward's account chooser is its login page); its user
// must be the one an id_token_hint or the claims request names.
func (s *Server) needsLogin(f *flow, c *client, sess *store.Session) string {
	if sess == nil {
		return "the user is not logged in"
	}
	if len(f.Login) > 0 && bytes.Equal(f.Login, sess.Hash) {
		return ""
	}
	maxAge := c.DefaultMaxAge
	if f.Req.MaxAge != nil {
		maxAge = maxAgeDuration(*f.Req.MaxAge)
	}
	switch {
	case hasPrompt(f.Req.Prompt, oauth.PromptLogin), hasPrompt(f.Req.Prompt, oauth.PromptSelectAccount):
		return "the request asks for a new login"
	case f.Req.MaxAge != nil && *f.Req.MaxAge == 0:
		return "max_age=0 asks for a new login"
	case (f.Req.MaxAge != nil || maxAge > 0) && s.now().Sub(sess.AuthTime) > maxAge:
		return "the login is older than max_age"
	case f.Req.HintSub != "" && s.subjectFor(c.Client, sess.Subject) != f.Req.HintSub:
		return "the user logged in is not the one the request names"
	}
	return ""
}

// toPage redirects the browser to a page of the flow.
func (s *Server) toPage(w http.ResponseWriter, r *http.Request, path string, f *flow) {
	sealed, err := s.sealFlow(f)
	if err != nil {
		s.authorizeError(w, r, redirectErr(&f.Req, oauth.Wrap(err, "cannot seal the flow")))
		return
	}
	s.redirect(w, r, s.url(path)+"?"+url.Values{"flow": {sealed}}.Encode())
}

// flowFromRequest opens the flow of a page request and re-reads its
// client (which may have been deleted or changed since).
func (s *Server) flowFromRequest(w http.ResponseWriter, r *http.Request, sealed string) (*flow, *client, bool) {
	f, err := s.openFlow(sealed)
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, oauth.New(oauth.InvalidRequest, "this sign-in request is invalid or has expired; go back to the application and start again"))
		return nil, nil, false
	}
	c, err := s.clients.get(r.Context(), f.Req.ClientID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		// The store out of reach is not a deleted client: 503 (pages.go).
		s.errorPage(w, r, http.StatusInternalServerError, oauth.Wrap(err, "cannot read the client"))
		return nil, nil, false
	}
	if err != nil || !c.matchRedirect(f.Req.RedirectURI) {
		s.errorPage(w, r, http.StatusBadRequest, oauth.New(oauth.InvalidClient, "the application is no longer registered"))
		return nil, nil, false
	}
	return f, c, true
}

// handleContinue resumes a flow after login.
func (s *Server) handleContinue(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.errorPage(w, r, http.StatusMethodNotAllowed, oauth.New(oauth.InvalidRequest, "use GET"))
		return
	}
	f, c, ok := s.flowFromRequest(w, r, r.URL.Query().Get("flow"))
	if !ok {
		return
	}
	s.proceed(w, r, f, c)
}

// handleLogin shows the login form (GET) and checks the credentials
// (POST). The form carries the sealed flow and a CSRF token tied to the
// browser cookie and the flow. An unknown username costs the same argon2id
// work as a wrong password and gets the same answer.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		sealed := r.URL.Query().Get("flow")
		f, c, ok := s.flowFromRequest(w, r, sealed)
		if !ok {
			return
		}
		// OIDC Core §3.1.2.1: login_hint fills in the username.
		s.renderLogin(w, r, http.StatusOK, f, c, sealed, f.Req.LoginHint, loginNotice{})
	case http.MethodPost:
		s.postLogin(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, r, http.StatusMethodNotAllowed, oauth.New(oauth.InvalidRequest, "use GET or POST"))
	}
}

// loginNotice is what the login page says above the form: the
// credentials were wrong, and how long to wait before the next attempt.
type loginNotice struct {
	wrong bool
	wait  time.Duration
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, f *flow, c *client, sealed, username string, n loginNotice) {
	bid := s.browserID(w, r)
	// ui_locales first (OIDC Core §3.1.2.1), then Accept-Language.
	lang := pageLanguage(r, f.Req.UILocales)
	s.render(w, page{name: "login.html", status: status, lang: lang, title: "login_title",
		formTarget: formActionSource(f.Req.RedirectURI), client: c, data: map[string]any{
			"Flow":     sealed,
			"CSRF":     s.csrfToken("login", bid, f.ID),
			"Username": username,
			"Wrong":    n.wrong,
			"Wait":     int((n.wait + time.Second - 1) / time.Second),
			"Action":   s.url(PathLogin),
			"Cancel":   s.cancelURL(r.Context(), &f.Req),
		}})
}

func (s *Server) postLogin(w http.ResponseWriter, r *http.Request) {
	// Per-IP rate limit of login attempts (ratelimit.go), before any work.
	if !s.allowPage(w, r, s.limits.login.ip, "login", s.limits.clientIP(r)) {
		return
	}
	form, err := readForm(w, r)
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, oauth.As(err))
		return
	}
	sealed := form.Get("flow")
	f, c, ok := s.flowFromRequest(w, r, sealed)
	if !ok {
		return
	}
	if !s.checkCSRF(form.Get("csrf"), "login", s.cookie(r, BrowserCookie), f.ID) {
		s.errorPage(w, r, http.StatusForbidden, oauth.New(oauth.InvalidRequest, "the form has expired or was not sent from this browser; go back and try again"))
		return
	}
	username, pw := form.Get("username"), form.Get("password")
	// Attempts on one account run one at a time in this process
	// (authlocks.go), so concurrent guesses each see the failures before
	// them instead of all passing the wait below at once.
	unlock, err := s.loginLocks.lock(r.Context(), accountKey(username))
	if err != nil {
		return // the browser went away while queued
	}
	defer unlock()
	// Failed-login throttling (ratelimit.go): while the account or the
	// address must wait, the attempt is refused before any password work,
	// with the same answer for every username. The server never sleeps.
	if d := s.limits.loginWait(r, username); d > 0 {
		locked := s.limits.loginLocked(r, username)
		s.metrics.loginRefused(locked)
		s.logLoginRefused(r, locked)
		retryAfter(w, d)
		s.renderLogin(w, r, http.StatusTooManyRequests, f, c, sealed, username, loginNotice{wait: d})
		return
	}
	subject, ok, err := s.checkPassword(r, username, pw)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, oauth.Wrap(err, "cannot check the password"))
		return
	}
	if !ok {
		// Unknown user and wrong password are recorded alike.
		n := loginNotice{wrong: true}
		s.metrics.loginFailed()
		s.logLoginFailed(r)
		if d := s.limits.loginFailed(r, username); d > 0 {
			retryAfter(w, d)
			n.wait = d
		}
		s.emitLoginFailed(r, c, username) // events.go
		s.renderLogin(w, r, http.StatusUnauthorized, f, c, sealed, username, n)
		return
	}
	s.limits.loginSucceeded(username)
	sess, err := s.startSession(w, r, subject)
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, oauth.Wrap(err, "cannot start the session"))
		return
	}
	f.Login = sess.Hash
	s.toPage(w, r, PathContinue, f)
}

// checkPassword verifies a user's password with argon2id; for an unknown
// user (or an empty password) it spends the same time in DummyVerify.
func (s *Server) checkPassword(r *http.Request, username, pw string) (string, bool, error) {
	if username == "" || len(username) > 256 || len(pw) > 1024 {
		password.DummyVerify(pw)
		return "", false, nil
	}
	u, err := s.st.GetUserByUsername(r.Context(), username)
	if errors.Is(err, store.ErrNotFound) {
		password.DummyVerify(pw)
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	ok, err := password.Verify(pw, u.PasswordHash)
	if err != nil {
		s.log.Error("authz: unreadable password hash", "sub", u.Subject, "err", err)
		return "", false, nil
	}
	if ok && password.NeedsRehash(u.PasswordHash) {
		if h, err := password.Hash(pw); err == nil {
			_ = s.st.SetPassword(r.Context(), u.Subject, h, s.now())
		}
	}
	return u.Subject, ok, nil
}

func clientName(c *client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}
