package authz

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// The verification page (RFC 8628 §3.3) has three steps, each a form
// with a CSRF token:
//
//  1. GET /device[?user_code=...] shows the code form, prefilled from
//     verification_uri_complete but never submitted for the user (§5.4:
//     a code in a link the user did not ask for is a remote phishing
//     attempt; the person types or confirms it).
//  2. POST /device with user_code: rate-limited per address (the login
//     tier) and, for wrong codes, by the user_code_failures allowances
//     (§5.1); a live pending code becomes a sealed flow, through the
//     login page when no one is signed in.
//  3. GET /device?flow= shows which client asks for which scopes, for
//     whom, with the code to compare with the device's screen; POST
//     with the decision allows or denies, once (DecideDeviceGrant).

// handleDevice serves the verification page.
func (s *Server) handleDevice(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		if sealed := r.URL.Query().Get("flow"); sealed != "" {
			s.deviceConfirm(w, r, sealed, nil)
			return
		}
		s.renderDeviceCode(w, r, http.StatusOK, r.URL.Query().Get("user_code"), "")
	case http.MethodPost:
		form, err := readForm(w, r)
		if err != nil {
			s.errorPage(w, r, http.StatusBadRequest, oauth.As(err))
			return
		}
		if sealed := form.Get("flow"); sealed != "" {
			s.deviceConfirm(w, r, sealed, form)
			return
		}
		s.deviceEnterCode(w, r, form)
	default:
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, r, http.StatusMethodNotAllowed, oauth.New(oauth.InvalidRequest, "use GET or POST"))
	}
}

// renderDeviceCode shows the code form; notice is a catalogue key said
// above it ("" for none).
func (s *Server) renderDeviceCode(w http.ResponseWriter, r *http.Request, status int, code, notice string) {
	if len(code) > maxUserCodeInput {
		code = ""
	}
	bid := s.browserID(w, r)
	lang := pageLanguage(r, nil)
	msg := ""
	if notice != "" {
		msg = lang.text(notice)
	}
	s.render(w, page{name: "device.html", status: status, lang: lang, title: "device_title", data: map[string]any{
		"Step": "code", "Code": code, "Notice": msg,
		"CSRF": s.csrfToken("device", bid, ""), "Action": s.url(PathDevice),
	}})
}

// deviceEnterCode checks an entered user code (step 2).
func (s *Server) deviceEnterCode(w http.ResponseWriter, r *http.Request, form url.Values) {
	if !s.allowPage(w, r, s.limits.login.ip, endpointDevice, s.limits.clientIP(r)) {
		return
	}
	if !s.checkCSRF(form.Get("csrf"), "device", s.cookie(r, BrowserCookie), "") {
		s.errorPage(w, r, http.StatusForbidden, oauth.New(oauth.InvalidRequest, "the form has expired or was not sent from this browser; go back and try again"))
		return
	}
	tiers := s.deviceFailureTiers(r)
	done, allowed := s.deviceCodeAllowed(w, r, tiers)
	if !allowed {
		return
	}
	defer done()
	code, ok := normalizeUserCode(form.Get("user_code"))
	var g *store.DeviceGrant
	var err error
	if ok {
		g, err = s.st.GetDeviceGrantByUserCode(r.Context(), userCodeHash(code), s.now())
	}
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExpired):
		s.errorPage(w, r, http.StatusInternalServerError, oauth.Wrap(err, "cannot read the code"))
		return
	case !ok || err != nil || g.Status != store.DevicePending:
		// Unknown, malformed, expired and decided codes alike: one
		// failure of each allowance (RFC 8628 §5.1).
		s.clientAuthFailed(r, tiers)
		s.metrics.deviceCodeFailed()
		s.renderDeviceCode(w, r, http.StatusBadRequest, form.Get("user_code"), "device_wrong")
		return
	}
	f := &flow{Req: authRequest{ClientID: g.ClientID, Scope: g.Scope, Resources: g.Resources}, Created: s.now().Unix(), Device: code}
	if sess, _ := s.session(r); sess == nil {
		s.toPage(w, r, PathLogin, f)
		return
	}
	s.toPage(w, r, PathDevice, f)
}

// deviceCodeAllowed looks, before the code is read, at what is left of
// the wrong-code allowances and refuses with 429 and Retry-After when
// one is spent; 503 when the limiter's store cannot answer (fail
// closed). Only a wrong code spends (clientAuthFailed). Guesses sent at
// once go through the authGate (authgate.go), as client authentications
// do: no more are in flight than failures are left, so a burst cannot
// have each of its guesses admitted by one look at the last failure.
// done ends the attempt.
func (s *Server) deviceCodeAllowed(w http.ResponseWriter, r *http.Request, tiers []authTier) (done func(), ok bool) {
	keys := make([]string, len(tiers))
	for i, t := range tiers {
		keys[i] = t.key
	}
	done, err := s.authGate.enter(r.Context(), keys, func() ([]int, error) { return s.deviceCodeRemaining(r, tiers) })
	if err != nil {
		e := oauth.As(err)
		if e.RetryAfter > 0 {
			retryAfter(w, time.Duration(e.RetryAfter)*time.Second)
		}
		s.errorPage(w, r, e.Status, e)
		return nil, false
	}
	return done, true
}

// deviceCodeRemaining is what each wrong-code allowance has left, or the
// refusal: 429 when one is spent, 503 when the store cannot answer.
func (s *Server) deviceCodeRemaining(r *http.Request, tiers []authTier) ([]int, error) {
	rem := make([]int, len(tiers))
	for i, t := range tiers {
		res, err := t.lim.Peek(r.Context(), t.key)
		if err != nil {
			s.log.Error("authz: rate limit store unavailable; refusing", "endpoint", endpointDevice, "err", err)
			return nil, &oauth.Error{Code: oauth.TemporarilyUnavailable, Status: http.StatusServiceUnavailable, Description: "try again", RetryAfter: 1}
		}
		if !res.Allowed {
			secs := res.RetryAfterSeconds()
			s.log.Info("authz: user code entry backed off", "tier", t.lim.Name(), "ip", s.limits.clientIP(r), "retry_after", secs)
			s.metrics.rateLimitedRequest(endpointDevice, t.lim.Name())
			return nil, &oauth.Error{Code: oauth.RateLimited, Status: http.StatusTooManyRequests, RetryAfter: secs,
				Description: fmt.Sprintf("Too many wrong codes. Try again in %d seconds.", secs)}
		}
		rem[i] = res.Remaining
	}
	return rem, nil
}

// deviceFailureTiers are the allowances of wrong user codes: the
// address, and every address together.
func (s *Server) deviceFailureTiers(r *http.Request) []authTier {
	var ts []authTier
	for _, t := range []authTier{
		{s.limits.deviceFailures.ip, "as\x00device_user_code\x00ip\x00" + s.limits.clientIP(r)},
		{s.limits.deviceFailures.client, "as\x00device_user_code\x00global"},
	} {
		if t.lim != nil {
			ts = append(ts, t)
		}
	}
	return ts
}

// deviceConfirm shows the decision page (GET, form nil) and records the
// decision (POST, step 3). The CSRF token is bound to the login session
// and the flow.
func (s *Server) deviceConfirm(w http.ResponseWriter, r *http.Request, sealed string, form url.Values) {
	f, c, ok := s.flowFromRequest(w, r, sealed)
	if !ok {
		return
	}
	if f.Device == "" {
		s.errorPage(w, r, http.StatusBadRequest, oauth.New(oauth.InvalidRequest, "this sign-in request is invalid"))
		return
	}
	sess, sv := s.session(r)
	if sess == nil {
		s.toPage(w, r, PathLogin, f)
		return
	}
	g, err := s.st.GetDeviceGrantByUserCode(r.Context(), userCodeHash(f.Device), s.now())
	if err != nil || g.Status != store.DevicePending || g.ClientID != c.ID {
		s.deviceGone(w, r, err)
		return
	}
	bind := string(hashToken(sv))
	if form == nil {
		s.renderDeviceConfirm(w, r, f, c, sealed, s.csrfToken("device_confirm", bind, f.ID), s.username(r, sess.Subject))
		return
	}
	if !s.checkCSRF(form.Get("csrf"), "device_confirm", bind, f.ID) {
		s.errorPage(w, r, http.StatusForbidden, oauth.New(oauth.InvalidRequest, "the form has expired or was not sent from this browser; go back and try again"))
		return
	}
	approve := form.Get("decision") == "allow"
	if !approve && form.Get("decision") != "deny" {
		s.errorPage(w, r, http.StatusBadRequest, oauth.New(oauth.InvalidRequest, "decision must be allow or deny"))
		return
	}
	if err := s.st.DecideDeviceGrant(r.Context(), userCodeHash(f.Device), approve, sess.Subject, sess.AuthTime, s.now()); err != nil {
		s.deviceGone(w, r, err)
		return
	}
	s.renderDeviceDone(w, r, approve)
}

// deviceGone answers a code that is no longer pending: decided (single
// use), expired or unknown, or a store that cannot say.
func (s *Server) deviceGone(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExpired) && !errors.Is(err, store.ErrAlreadyUsed) {
		s.errorPage(w, r, http.StatusInternalServerError, oauth.Wrap(err, "cannot read the code"))
		return
	}
	s.renderDeviceCode(w, r, http.StatusBadRequest, "", "device_gone")
}

func (s *Server) renderDeviceConfirm(w http.ResponseWriter, r *http.Request, f *flow, c *client, sealed, csrf, username string) {
	lang := pageLanguage(r, nil)
	type scope struct{ Name, Meaning string }
	var scopes []scope
	for _, sc := range strings.Fields(f.Req.Scope) {
		scopes = append(scopes, scope{Name: sc, Meaning: lang.text(scopeKeys[sc])})
	}
	s.render(w, page{name: "device.html", status: http.StatusOK, lang: lang, title: "device_confirm_title", client: c, data: map[string]any{
		"Step": "confirm", "Code": formatUserCode(f.Device), "Scopes": scopes, "Resources": f.Req.Resources,
		"Username": username, "Flow": sealed, "CSRF": csrf, "Action": s.url(PathDevice),
	}})
}

func (s *Server) renderDeviceDone(w http.ResponseWriter, r *http.Request, approved bool) {
	lang := pageLanguage(r, nil)
	key := "device_denied"
	if approved {
		key = "device_allowed"
	}
	s.render(w, page{name: "device.html", status: http.StatusOK, lang: lang, title: key, data: map[string]any{
		"Step": "done", "Notice": lang.text(key + "_do"),
	}})
}
