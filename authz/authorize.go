package authz

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/store"
)

// requestURIPrefix is the URN prefix of PAR request URIs (RFC 9126 §2.2).
const requestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// authRequest is a validated authorization request.
type authRequest struct {
	ClientID      string   `json:"client_id"`
	RedirectURI   string   `json:"redirect_uri"`
	State         string   `json:"state,omitempty"`
	Scope         string   `json:"scope,omitempty"`
	CodeChallenge string   `json:"code_challenge"`
	Resources     []string `json:"resource,omitempty"`
	DPoPJKT       string   `json:"dpop_jkt,omitempty"`
	// Prompt is the normalised prompt (parsePrompt): space-separated.
	Prompt string `json:"prompt,omitempty"`

	// OpenID Connect (OIDC Core §3.1.2.1; oidcparams.go).
	Nonce string `json:"nonce,omitempty"`
	// MaxAge is max_age in seconds; nil when absent.
	MaxAge    *int64 `json:"max_age,omitempty"`
	LoginHint string `json:"login_hint,omitempty"`
	// IDTokenHint is the raw id_token_hint, verified and dropped by
	// validateAuthorization: only HintSub travels on.
	IDTokenHint string `json:"-"`
	// HintSub is the subject the request insists on: the sub of a
	// verified id_token_hint, or the sub value of the claims request.
	HintSub   string   `json:"hint_sub,omitempty"`
	ACRValues []string `json:"acr_values,omitempty"`
	// Claims is the claims request parameter as canonical JSON.
	Claims string `json:"claims,omitempty"`
	// UILocales are the well-formed tags of ui_locales, in the order of
	// the user's preference, for the pages of the flow.
	UILocales []string `json:"ui_locales,omitempty"`
	// ResponseMode is responseModeQueryJWT when the client asked for a
	// JWT-secured response (JARM, jarm.go); empty for the plain query.
	ResponseMode string `json:"response_mode,omitempty"`
}

// authzError is an error of the authorization endpoint. When redirect is
// true the client and redirect URI were verified and the error goes back
// to the client; otherwise it is shown on an error page and never
// redirected (RFC 6749 §4.1.2.1, RFC 9700 §4.11).
type authzError struct {
	*oauth.Error
	redirect bool
	req      *authRequest
}

func pageErr(e *oauth.Error) *authzError { return &authzError{Error: e} }

func redirectErr(req *authRequest, e *oauth.Error) *authzError {
	return &authzError{Error: e, redirect: true, req: req}
}

// handleAuthorize is the authorization endpoint (RFC 6749 §3.1), GET and
// POST.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	var params url.Values
	var err error
	switch r.Method {
	case http.MethodGet:
		params, err = parseParams(r.URL.RawQuery)
	case http.MethodPost:
		params, err = readForm(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, r, http.StatusMethodNotAllowed, oauth.New(oauth.InvalidRequest, "use GET or POST"))
		return
	}
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, oauth.As(err))
		return
	}
	req, c, aerr := s.authorizationRequest(r.Context(), params)
	if aerr != nil {
		s.authorizeError(w, r, aerr)
		return
	}
	s.proceed(w, r, &flow{Req: *req, Created: s.now().Unix()}, c)
}

// authorizationRequest resolves a pushed request (request_uri) and
// validates the request (the bare parameters when not pushed).
func (s *Server) authorizationRequest(ctx context.Context, params url.Values) (*authRequest, *client, *authzError) {
	clientID := params.Get("client_id")
	if clientID == "" {
		return nil, nil, pageErr(oauth.New(oauth.InvalidRequest, "client_id is missing"))
	}
	c, err := s.clients.get(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, pageErr(oauth.New(oauth.InvalidClient, "unknown client"))
	}
	if err != nil {
		return nil, nil, pageErr(oauth.Wrap(err, "cannot read the client"))
	}
	params, how, aerr := s.requestSource(ctx, c, params)
	if aerr != nil {
		return nil, nil, aerr
	}
	req, aerr := s.validateAuthorization(c, params)
	if aerr != nil {
		return nil, nil, aerr
	}
	if how != sourcePushed && s.requiresPAR(c) {
		return nil, nil, redirectErr(req, oauth.New(oauth.InvalidRequest, "this client must push its authorization request to the PAR endpoint (RFC 9126)"))
	}
	// A pushed request was held to the rule at the PAR endpoint.
	if how == sourceQuery && s.requiresRequestObject(c) {
		return nil, nil, redirectErr(req, errRequestObjectRequired())
	}
	return req, c, nil
}

// Where the parameters of an authorization request come from.
const (
	sourceQuery   = iota // the query or form of the request itself
	sourcePushed         // a pushed request (request_uri, RFC 9126 §4)
	sourceRequest        // a signed request object (request, RFC 9101)
)

// requestSource returns the parameters of the authorization request: those
// of the request itself, of the pushed request its request_uri names, or
// of its request object. Its errors are shown on a page: the redirect URI
// is not verified yet.
func (s *Server) requestSource(ctx context.Context, c *client, params url.Values) (url.Values, int, *authzError) {
	ru, ro := params.Get("request_uri"), params.Get("request")
	switch {
	case ru != "" && ro != "":
		return nil, 0, pageErr(oauth.New(oauth.InvalidRequest, "send request or request_uri, not both (RFC 9101 §5)"))
	case ru != "":
		pushed, aerr := s.pushedRequest(ctx, c, ru)
		return pushed, sourcePushed, aerr
	case ro != "":
		// RFC 9101 §5, §6.3: the client_id of the query is the object's
		// (requestObjectParams), and only the object's parameters are
		// used; any others in the query are ignored.
		obj, e := s.requestObject(ctx, c, ro)
		if e != nil {
			return nil, 0, pageErr(e)
		}
		return obj, sourceRequest, nil
	}
	return params, sourceQuery, nil
}

// pushedRequest consumes the pushed request a request_uri names. Only the
// request URIs of the PAR endpoint are read: a request object by
// reference is request_uri_not_supported (RFC 9101 §5.2 makes fetching it
// optional; Ward fetches nothing a client names).
func (s *Server) pushedRequest(ctx context.Context, c *client, ru string) (url.Values, *authzError) {
	id, ok := strings.CutPrefix(ru, requestURIPrefix)
	if !ok {
		return nil, pageErr(oauth.New(errRequestURINotSupported, "request_uri may only be one the PAR endpoint issued; request objects by reference are not supported"))
	}
	if id == "" {
		return nil, pageErr(oauth.New(oauth.InvalidRequestURI, "request_uri is not one this server issued"))
	}
	// RFC 9126 §4: the request_uri is single use and bound to the
	// client that pushed it. The store consumes it only for that
	// client, atomically: a request_uri presented with another
	// client_id is refused and stays usable by its owner.
	par, err := s.st.ConsumePAR(ctx, id, c.ID, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return nil, pageErr(oauth.New(oauth.InvalidRequestURI, "request_uri is unknown, used, expired or pushed by another client"))
	case err != nil:
		return nil, pageErr(oauth.Wrap(err, "cannot read the pushed request"))
	}
	// RFC 9126 §4: only the pushed parameters are used.
	params, err := parseParams(par.Params)
	if err != nil {
		return nil, pageErr(oauth.As(err))
	}
	return params, nil
}

// requiresRequestObject reports whether the client's authorization
// requests must be signed request objects: request_objects.required or
// its require_signed_request_object (RFC 9101 §10.5).
func (s *Server) requiresRequestObject(c *client) bool {
	return s.cfg.RequestObjects.Required || c.RequireSignedRequestObject
}

func errRequestObjectRequired() *oauth.Error {
	return oauth.New(oauth.InvalidRequest, "this client must send its authorization request as a signed request object (request parameter, RFC 9101)")
}

// parseAuthorizationRequest reads the parameters of an authorization
// request without consulting the client: syntax only.
func parseAuthorizationRequest(params url.Values) (*authRequest, *oauth.Error) {
	req := &authRequest{
		ClientID:      params.Get("client_id"),
		RedirectURI:   params.Get("redirect_uri"),
		State:         params.Get("state"),
		Scope:         params.Get("scope"),
		CodeChallenge: params.Get("code_challenge"),
		Resources:     params["resource"],
		DPoPJKT:       params.Get("dpop_jkt"),
	}
	// First, so that every later error goes back in the mode asked for
	// (JARM §2.2); an unsupported mode is answered in the plain query.
	rm, rmErr := parseResponseMode(params.Get("response_mode"))
	if rmErr != nil {
		return req, rmErr
	}
	req.ResponseMode = rm
	if len(req.State) > 2048 || len(req.RedirectURI) > 2048 || len(req.Scope) > 4096 {
		return req, oauth.New(oauth.InvalidRequest, "a parameter is too long")
	}
	switch rt := params.Get("response_type"); rt {
	case "code":
	case "":
		return req, oauth.New(oauth.InvalidRequest, "response_type is missing")
	case "token", "id_token", "id_token token":
		return req, oauth.New(oauth.UnsupportedResponseType, "OAuth 2.1 removed the implicit grant (response_type=%s); use response_type=code with PKCE", rt)
	default:
		// Hybrid flows (code id_token, code token, ...) included: OAuth
		// 2.1 and Ward's OpenID Connect use the code flow only.
		return req, oauth.New(oauth.UnsupportedResponseType, "only response_type=code is supported")
	}
	if err := pkce.ValidateChallenge(req.CodeChallenge, params.Get("code_challenge_method")); err != nil {
		switch {
		case errors.Is(err, pkce.ErrMissingChallenge):
			return req, oauth.New(oauth.InvalidRequest, "code_challenge is required: PKCE with S256 is mandatory for every client")
		case errors.Is(err, pkce.ErrPlainMethod), errors.Is(err, pkce.ErrUnsupportedMethod):
			return req, oauth.New(oauth.InvalidRequest, "code_challenge_method must be S256")
		default:
			return req, oauth.New(oauth.InvalidRequest, "code_challenge must be 43 base64url characters (S256)")
		}
	}
	if req.DPoPJKT != "" && !isThumbprint(req.DPoPJKT) {
		return req, oauth.New(oauth.InvalidRequest, "dpop_jkt must be a base64url SHA-256 JWK thumbprint")
	}
	if e := oidcParams(req, params); e != nil {
		return req, e
	}
	return req, nil
}

// validateAuthorization checks a request against its client. Until the
// redirect URI is verified, errors are shown on a page; after, they go
// back to the client.
func (s *Server) validateAuthorization(c *client, params url.Values) (*authRequest, *authzError) {
	req, perr := parseAuthorizationRequest(params)
	if req.RedirectURI == "" {
		return nil, pageErr(oauth.New(oauth.InvalidRequest, "redirect_uri is missing"))
	}
	if !c.matchRedirect(req.RedirectURI) {
		return nil, pageErr(oauth.New(oauth.InvalidRequest, "redirect_uri is not registered for this client"))
	}
	if perr != nil {
		return nil, redirectErr(req, perr)
	}
	if !c.allowsGrant(oauth.GrantAuthorizationCode) {
		return nil, redirectErr(req, oauth.New(oauth.UnauthorizedClient, "this client may not use the authorization_code grant"))
	}
	scope, err := scopeSubset(req.Scope, c.Scopes)
	if err != nil {
		return nil, redirectErr(req, oauth.As(err))
	}
	req.Scope = scope
	if len(req.Resources) > 0 {
		if _, err := resources(req.Resources, c.Audiences, nil); err != nil {
			return nil, redirectErr(req, oauth.As(err))
		}
	}
	if req.IDTokenHint != "" {
		if e := s.checkIDTokenHint(req, c); e != nil {
			return nil, redirectErr(req, e)
		}
	}
	if c.SenderConstraint == store.ConstraintMTLS {
		return nil, redirectErr(req, oauth.New(oauth.UnauthorizedClient, "this client requires mTLS-bound tokens, which this server does not issue yet"))
	}
	return req, nil
}

func isThumbprint(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// authorizeError renders an authorization error: to the client's verified
// redirect URI with error, error_description, state and iss (RFC 6749
// §4.1.2.1, RFC 9207 §2) — signed in a response JWT when the request
// asked for JARM (§2.2) — or on an error page.
func (s *Server) authorizeError(w http.ResponseWriter, r *http.Request, e *authzError) {
	if !e.redirect {
		status := e.Status
		if status == 0 || status == http.StatusUnauthorized {
			status = http.StatusBadRequest
		}
		s.errorPage(w, r, status, e.Error)
		return
	}
	code := e.Code
	if e.Status >= 500 {
		s.log.Error("authz: authorization request failed", "err", e.Error)
		// RFC 6749 §4.1.2.1: temporarily_unavailable when the store
		// cannot be reached (unavailable.go).
		if u := asProtocolError(e.Error); u.Code == oauth.TemporarilyUnavailable {
			code = u.Code
		}
	}
	v := url.Values{"error": {code}, "iss": {s.issuer}}
	if e.Description != "" {
		v.Set("error_description", e.Description)
	}
	if e.req.State != "" {
		v.Set("state", e.req.State)
	}
	to, err := s.responseURL(r.Context(), e.req, v)
	if err != nil {
		// No unsigned answer to a client that asked for a signed one.
		s.log.Error("authz: authorization response not signed", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, oauth.As(err))
		return
	}
	s.redirect(w, r, to)
}

// redirect sends the browser to the client with 303 (a POST must become
// a GET, OAuth 2.1 §7.5.1).
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, to string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Location", to)
	w.WriteHeader(http.StatusSeeOther)
}

// issueCode stores a code for the flow and redirects to the client with
// code, state and iss (RFC 6749 §4.1.2, RFC 9207 §2), signed in a
// response JWT when the request asked for JARM (jarm.go).
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, req *authRequest, sess *store.Session) {
	now := s.now()
	ttl := s.cfg.Tokens.CodeTTL
	if ttl <= 0 || ttl > 60*1e9 {
		ttl = 60 * 1e9
	}
	value := randomToken(32)
	code := &store.AuthCode{
		Hash:          hashToken(value),
		ClientID:      req.ClientID,
		Subject:       sess.Subject,
		RedirectURI:   req.RedirectURI,
		Scope:         req.Scope,
		Resources:     req.Resources,
		CodeChallenge: req.CodeChallenge,
		DPoPJKT:       req.DPoPJKT,
		AuthTime:      sess.AuthTime,
		CreatedAt:     now,
		ExpiresAt:     now.Add(ttl),
		// What the ID token of this code will say (OIDC Core §2): a
		// password login in this session.
		OIDC: store.OIDC{Nonce: req.Nonce, ACR: ACRPassword, AMR: amrPassword, SID: sess.SID(), ClaimsRequest: req.Claims},
	}
	if err := s.st.PutCode(r.Context(), code); err != nil {
		s.authorizeError(w, r, redirectErr(req, oauth.Wrap(err, "cannot store the code")))
		return
	}
	v := url.Values{"code": {value}, "iss": {s.issuer}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	to, err := s.responseURL(r.Context(), req, v)
	if err != nil {
		s.log.Error("authz: authorization response not signed", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, oauth.As(err))
		return
	}
	s.redirect(w, r, to)
}
