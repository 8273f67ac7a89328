package bff

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"time"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
)

// login starts the authorization code flow (RFC 6749 §4.1) with PKCE
// S256, a random state, PAR (RFC 9126) and dpop_jkt (RFC 9449 §10) for a
// DPoP key made for this login and kept server side; the browser gets only
// a short-lived, HttpOnly login cookie naming the flow.
func (s *Site) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	returnTo := r.URL.Query().Get("return_to")
	if !config.LocalPath(returnTo) {
		// Never an open redirect: only a path on this site (RFC 9700 §4.11).
		returnTo = s.cfg.AfterLogin
	}
	key, err := newKey()
	if err != nil {
		s.fail(w, r, "login", unavailable(err, "cannot make a key"))
		return
	}
	cl, err := s.oauthClient(ctx, key)
	if err != nil {
		s.fail(w, r, "login", unavailable(err, "the authorization server cannot be reached"))
		return
	}
	ar, err := cl.AuthCodeRequest(ctx, s.cfg.RedirectURI())
	if err != nil {
		s.fail(w, r, "login", unavailable(err, "the authorization server refused to start the login"))
		return
	}
	der, err := marshalKey(key)
	if err != nil {
		s.fail(w, r, "login", unavailable(err, "cannot keep the key"))
		return
	}
	id, err := newID()
	if err != nil {
		s.fail(w, r, "login", unavailable(err, "no randomness"))
		return
	}
	k := storeKey("flow", id)
	sealed, err := s.seal.seal(k, &flow{State: ar.State, Verifier: ar.Verifier, ReturnTo: returnTo, Key: der, Created: s.now(), Nonce: ar.Nonce, MaxAge: ar.MaxAge})
	if err == nil {
		err = s.store.Put(ctx, k, sealed, flowTTL)
	}
	if err != nil {
		s.fail(w, r, "login", unavailable(err, "cannot start a login now"))
		return
	}
	// Lax, not Strict: the redirect back from the authorization server is
	// a top-level navigation that may come from another site.
	s.setCookie(w, s.flowName, id, flowTTL, http.SameSiteLaxMode)
	s.event("login", "ok")
	http.Redirect(w, r, ar.URL, http.StatusSeeOther)
}

// callback ends the login: the flow named by the login cookie is taken
// from the store (single use, so a replayed callback finds nothing), iss
// (RFC 9207 §2.4) and state (RFC 6749 §10.12) are checked before the code
// goes anywhere, the code is redeemed with its verifier and a proof of
// the flow's key, and a new session (a new id: no fixation) is made.
func (s *Site) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := cookieID(r, s.flowName)
	s.setCookie(w, s.flowName, "", 0, http.SameSiteLaxMode)
	if id == "" {
		s.fail(w, r, "callback", &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusBadRequest, Reason: "no_login",
			Description: "No login is in progress in this browser: it expired, was already completed, or was started elsewhere."})
		return
	}
	k := storeKey("flow", id)
	sealed, err := s.store.Take(ctx, k)
	var f flow
	switch {
	case errors.Is(err, ErrNotFound):
		s.fail(w, r, "callback", &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusBadRequest, Reason: "no_login",
			Description: "This login expired or was already completed."})
		return
	case err != nil:
		s.fail(w, r, "callback", unavailable(err, "the session store cannot be reached"))
		return
	case s.seal.open(k, sealed, &f) != nil || s.now().Sub(f.Created) > flowTTL:
		s.fail(w, r, "callback", &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusBadRequest, Reason: "no_login",
			Description: "This login expired."})
		return
	}
	key, err := parseKey(f.Key)
	if err != nil {
		s.fail(w, r, "callback", unavailable(err, "cannot read the login's key"))
		return
	}
	cl, err := s.oauthClient(ctx, key)
	if err != nil {
		s.fail(w, r, "callback", unavailable(err, "the authorization server cannot be reached"))
		return
	}
	ar := &client.AuthRequest{State: f.State, Verifier: f.Verifier, RedirectURI: s.cfg.RedirectURI(), Nonce: f.Nonce, MaxAge: f.MaxAge}
	if s.oidc() && f.Nonce == "" {
		s.fail(w, r, "callback", &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusBadRequest, Reason: "no_login", Description: "This login expired."})
		return
	}
	tok, err := cl.ExchangeRedirect(ctx, ar, r.URL.Query())
	if err != nil {
		s.fail(w, r, "callback", callbackError(err))
		return
	}
	in, err := cl.Introspect(ctx, tok.AccessToken, oauth.HintAccessToken)
	if err != nil || !in.Active || in.Subject == "" {
		if err == nil {
			err = errors.New("the new access token is not active")
		}
		s.fail(w, r, "callback", unavailable(err, "cannot read the login's identity"))
		return
	}
	now := s.now()
	sess := &session{
		Subject: in.Subject, Username: in.Username, Scope: in.Scope, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken,
		Expiry: tok.Expiry, Key: f.Key, Created: now, LastSeen: now, GrantChecked: now,
	}
	if idt, ok := client.IDTokenOf(tok); ok {
		// ExchangeRedirect verified it: signature, iss, aud, azp, nonce,
		// at_hash (OIDC Core §3.1.3.7).
		sess.IDToken = idt.Raw
		sess.User = &userNames{Name: idt.Name, PreferredUsername: idt.PreferredUsername, Email: idt.Email}
	}
	sid, err := newID()
	if err == nil {
		err = s.put(ctx, sid, sess)
	}
	if err != nil {
		// The grant is useless without a session: give it back.
		_ = cl.Revoke(ctx, tok.RefreshToken, oauth.HintRefreshToken)
		s.fail(w, r, "callback", unavailable(err, "cannot keep the session"))
		return
	}
	if old := cookieID(r, s.sessName); old != "" {
		s.replaced(ctx, old)
	}
	s.setCookie(w, s.sessName, sid, s.cfg.Session.Lifetime, s.sameSite)
	s.event("callback", "ok")
	s.log.Info("bff login", "sub", in.Subject)
	http.Redirect(w, r, f.ReturnTo, http.StatusSeeOther)
}

// callbackError maps the client's refusal of an authorization response.
func callbackError(err error) *oauth.Error {
	bad := func(reason, desc string) *oauth.Error {
		return &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusBadRequest, Reason: reason, Description: desc, Err: err}
	}
	var ae *client.AuthorizationError
	var re *client.RetrieveError
	switch {
	case errors.Is(err, client.ErrIssuerMismatch):
		return bad("iss_mismatch", "The response does not come from this site's authorization server (RFC 9207); the login was abandoned.")
	case errors.Is(err, client.ErrIDToken):
		return bad("id_token_refused", "The authorization server's ID token failed verification; the login was abandoned.")
	case errors.Is(err, client.ErrStateMismatch):
		return bad("state_mismatch", "The response does not belong to the login this browser started; the login was abandoned.")
	case errors.As(err, &ae) && ae.ErrorCode == oauth.AccessDenied:
		e := bad("authorization_error", "The sign-in was cancelled, or access was denied (access_denied): this site has no session for you.")
		e.Status = http.StatusForbidden
		return e
	case errors.As(err, &ae):
		return bad("authorization_error", "The authorization server did not complete the login: "+clip(ae.ErrorCode)+".")
	case errors.As(err, &re):
		return bad("code_refused", "The authorization server refused the code ("+clip(re.ErrorCode)+").")
	case errors.Is(err, client.ErrBadResponse):
		return bad("bad_response", "The authorization response is malformed.")
	}
	return unavailable(err, "the authorization server cannot be reached")
}

// pageCSS is the one stylesheet of the refusal page, inline and allowed
// by its hash in the page's Content-Security-Policy.
const pageCSS = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f2f4f7;color:#1a1a1a;margin:0;padding:3rem 1rem;line-height:1.5}
main{max-width:28rem;margin:0 auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 1px 3px rgba(0,0,0,.12),0 6px 20px rgba(0,0,0,.06)}
h1{font-size:1.4rem;margin:0 0 .75rem}
a.button{display:inline-block;margin:.75rem .75rem 0 0;padding:.6rem 1.1rem;border-radius:6px;background:#0b57d0;color:#fff;font-weight:600;text-decoration:none}
a.secondary{background:#e8eaed;color:#1a1a1a}
a:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}
.technical{margin-top:1.5rem;padding-top:.75rem;border-top:1px solid #e3e6eb;font-size:.9rem;color:#4d5562}
code{font-family:ui-monospace,Menlo,Consolas,monospace;background:#f0f2f5;border-radius:4px;padding:.1em .3em}
@media (max-width:30rem){body{padding:1.5rem .75rem}main{padding:1.5rem 1.25rem}h1{line-height:1.25}a.button{display:block;text-align:center;margin-right:0}}`

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in did not complete</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{{.CSS}}</style></head>
<body><main><h1>Sign-in did not complete</h1><p id="message">{{.Message}}</p>
<p>You can sign in again, or go back to the application.</p>
<p><a class="button" href="{{.Login}}">Sign in again</a><a class="button secondary" href="{{.Back}}">Back to the application</a></p>
<p class="technical">Error code: <code>{{.Code}}</code>{{if .Reason}} (<code>{{.Reason}}</code>){{end}}</p>
</main></body></html>
`))

// pageCSP allows pageCSS by its hash (CSP3 §8.2), and nothing else.
var pageCSP = func() string {
	h := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}()

// page renders a refusal for a browser navigation: what happened, a link
// to sign in again and one back to the app, the code below.
func (s *Site) page(w http.ResponseWriter, e *oauth.Error) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pageCSP)
	w.WriteHeader(e.Status)
	back := s.cfg.AfterLogin
	if back == "" {
		back = "/"
	}
	_ = pageTemplate.Execute(w, struct {
		CSS                                template.CSS
		Message, Login, Back, Code, Reason string
	}{template.CSS(pageCSS), e.Description, s.cfg.PathPrefix + "/login", back, e.Code, e.Reason})
}

// replaced ends the session a new login in the same browser replaces,
// and revokes its grant in the background: nobody holds its tokens any
// more.
func (s *Site) replaced(ctx context.Context, sid string) {
	s.forget(sid)
	k := storeKey("sess", sid)
	b, err := s.store.Take(ctx, k)
	var old session
	if err != nil || s.seal.open(k, b, &old) != nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		s.revoke(ctx, &old)
	}()
}
