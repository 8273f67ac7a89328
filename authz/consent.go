package authz

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// consentEveryTime reports whether a flow of this client must show the
// consent page even when the user consented before. RFC 8252 §8.6, RFC
// 6749 §10.2: without the user's interaction, a code may only go where
// the client's identity is assured. A public client's loopback (any port)
// or private-use-scheme redirect URI is not: any local process can
// listen on a loopback port or claim the scheme, open the browser, and
// with remembered consent receive the code, redeeming it with its own
// PKCE verifier and DPoP key. An https redirect URI, or a confidential
// client (which authenticates at the token endpoint), is assured. The
// operator may opt a client out (clients[].allow_remembered_consent).
func (c *client) consentEveryTime(redirectURI string) bool {
	return c.Public() && !c.AllowRememberedConsent && !strings.HasPrefix(redirectURI, "https://")
}

// consented reports whether subject granted client every scope of scope.
func (s *Server) consented(r *http.Request, subject, clientID, scope string) (bool, error) {
	cons, err := s.st.GetConsent(r.Context(), subject, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, sc := range strings.Fields(scope) {
		if !contains(cons.Scopes, sc) {
			return false, nil
		}
	}
	return true, nil
}

// handleConsent shows the consent page (GET) and records the decision
// (POST). The form's CSRF token is tied to the login session and the flow.
// Consent is remembered per user, client and scope; RevokeConsent forgets
// it.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	var sealed string
	var form map[string][]string
	switch r.Method {
	case http.MethodGet:
		sealed = r.URL.Query().Get("flow")
	case http.MethodPost:
		f, err := readForm(w, r)
		if err != nil {
			s.errorPage(w, r, http.StatusBadRequest, oauth.As(err))
			return
		}
		form = f
		sealed = f.Get("flow")
	default:
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, r, http.StatusMethodNotAllowed, oauth.New(oauth.InvalidRequest, "use GET or POST"))
		return
	}
	f, c, ok := s.flowFromRequest(w, r, sealed)
	if !ok {
		return
	}
	if f.Device != "" {
		// A device flow has no redirect URI: it is decided on /device.
		s.errorPage(w, r, http.StatusBadRequest, oauth.New(oauth.InvalidRequest, "this sign-in request is invalid"))
		return
	}
	sess, sv := s.session(r)
	if sess == nil || s.needsLogin(f, c, sess) != "" ||
		(f.Req.HintSub != "" && s.subjectFor(c.Client, sess.Subject) != f.Req.HintSub) {
		// OIDC Core §3.1.2.1: the page opened directly with the flow
		// does not skip the login the request asks for (max_age,
		// prompt=login, id_token_hint): proceed decides as /authorize.
		s.proceed(w, r, f, c)
		return
	}
	bind := string(hashToken(sv))
	if r.Method == http.MethodGet {
		s.renderConsent(w, r, f, c, sealed, s.csrfToken("consent", bind, f.ID), s.username(r, sess.Subject))
		return
	}
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if !s.checkCSRF(get("csrf"), "consent", bind, f.ID) {
		s.errorPage(w, r, http.StatusForbidden, oauth.New(oauth.InvalidRequest, "the form has expired or was not sent from this browser; go back and try again"))
		return
	}
	switch get("decision") {
	case "allow":
		err := s.st.GrantConsent(r.Context(), &store.Consent{Subject: sess.Subject, ClientID: c.ID, Scopes: strings.Fields(f.Req.Scope), GrantedAt: s.now()})
		if err != nil {
			s.authorizeError(w, r, redirectErr(&f.Req, oauth.Wrap(err, "cannot record consent")))
			return
		}
		s.emit(r, secevent.Event{Type: secevent.ConsentGranted, ClientID: c.ID, Subject: sess.Subject, Reason: f.Req.Scope})
		s.issueCode(w, r, &f.Req, sess)
	case "deny":
		s.authorizeError(w, r, redirectErr(&f.Req, oauth.New(oauth.AccessDenied, "the user denied access")))
	default:
		s.errorPage(w, r, http.StatusBadRequest, oauth.New(oauth.InvalidRequest, "decision must be allow or deny"))
	}
}

// renderConsent shows the consent page: the client by name and logo, who
// is signed in, each scope with what it means when the catalogue knows
// it.
func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, f *flow, c *client, sealed, csrf, username string) {
	// ui_locales first (OIDC Core §3.1.2.1), then Accept-Language.
	lang := pageLanguage(r, f.Req.UILocales)
	type scope struct{ Name, Meaning string }
	var scopes []scope
	for _, sc := range strings.Fields(f.Req.Scope) {
		scopes = append(scopes, scope{Name: sc, Meaning: lang.text(scopeKeys[sc])})
	}
	s.render(w, page{name: "consent.html", status: http.StatusOK, lang: lang, title: "consent_title",
		formTarget: formActionSource(f.Req.RedirectURI), client: c, data: map[string]any{
			"Scopes":    scopes,
			"Claims":    consentClaims(lang, f.Req.Scope, flowClaimsRequest(&f.Req)),
			"Username":  username,
			"Resources": f.Req.Resources,
			"Unproven":  c.consentEveryTime(f.Req.RedirectURI),
			"Flow":      sealed,
			"CSRF":      csrf,
			"Action":    s.url(PathConsent),
		}})
}

// username is the login name of subject, so the consent page can say who
// is consenting; "" when it cannot be read (the page goes on without it).
func (s *Server) username(r *http.Request, subject string) string {
	u, err := s.st.GetUser(r.Context(), subject)
	if err != nil {
		return ""
	}
	return u.Username
}

// scopeKeys are the catalogue keys of the scopes whose meaning the
// consent page explains (OIDC Core §5.4, §11); others show by name.
var scopeKeys = map[string]string{
	"openid": "scope_openid", "profile": "scope_profile", "email": "scope_email", "offline_access": "scope_offline",
}

// RevokeConsent forgets the consent subject gave client and revokes every
// grant (token family) of that client for that subject, so the next
// authorization asks again and no refresh token of the old grant works.
func (s *Server) RevokeConsent(ctx context.Context, subject, clientID string) error {
	if err := s.st.RevokeConsent(ctx, subject, clientID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	fams, err := s.st.ListFamilies(ctx, subject)
	if err != nil {
		return err
	}
	for _, f := range fams {
		if f.ClientID == clientID && !f.Revoked() {
			if err := s.st.RevokeFamily(ctx, f.ID, "consent_revoked", s.now()); err != nil {
				return err
			}
		}
	}
	s.emit(nil, secevent.Event{Type: secevent.ConsentRevoked, ClientID: clientID, Subject: subject})
	return nil
}
