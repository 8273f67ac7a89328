package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Error codes (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7009 §2.2.1;
// RFC 8707 §2; RFC 9126 §2.3; RFC 9449 §7.1, §8).
const (
	InvalidRequest          = "invalid_request"
	InvalidClient           = "invalid_client"
	InvalidGrant            = "invalid_grant"
	UnauthorizedClient      = "unauthorized_client"
	UnsupportedGrantType    = "unsupported_grant_type"
	UnsupportedResponseType = "unsupported_response_type"
	InvalidScope            = "invalid_scope"
	InvalidTarget           = "invalid_target"
	AccessDenied            = "access_denied"
	ServerError             = "server_error"
	TemporarilyUnavailable  = "temporarily_unavailable"
	UnsupportedTokenType    = "unsupported_token_type"
	InvalidRequestURI       = "invalid_request_uri"
	InvalidRequestObject    = "invalid_request_object"
	InvalidToken            = "invalid_token"
	InsufficientScope       = "insufficient_scope"
	InvalidDPoPProof        = "invalid_dpop_proof"
	UseDPoPNonce            = "use_dpop_nonce"
	InvalidClientMetadata   = "invalid_client_metadata"
	// RFC 7591 §3.2.2.
	InvalidRedirectURI          = "invalid_redirect_uri"
	UnapprovedSoftwareStatement = "unapproved_software_statement"
	LoginRequired               = "login_required"
	ConsentRequired             = "consent_required"
	InteractionRequired         = "interaction_required" // OIDC Core §3.1.2.6
	SlowDown                    = "slow_down"
	AuthorizationPending        = "authorization_pending" // RFC 8628 §3.5
	ExpiredToken                = "expired_token"         // RFC 8628 §3.5
	RateLimited                 = "rate_limited"
)

// Error is a protocol error: the RFC error code, a description for the
// client's developer (never a token or secret), and the HTTP status. Reason
// is a stable machine-readable cause for logs and metrics (for example a
// dpop.Reason); it is not sent to the client.
type Error struct {
	Code        string
	Description string
	Status      int
	Reason      string

	// DPoPNonce, when set, is sent in the DPoP-Nonce header (RFC 9449 §8).
	DPoPNonce string
	// Scope is the scope needed, for insufficient_scope (RFC 6750 §3).
	Scope string
	// RetryAfter, in seconds, is sent in Retry-After when positive.
	RetryAfter int

	// Err is the internal cause; it is logged, never sent.
	Err error
}

func (e *Error) Error() string {
	s := e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error with a default status for the code.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...), Status: DefaultStatus(code)}
}

// Wrap returns a server_error (500) hiding cause from the client.
func Wrap(cause error, format string, args ...any) *Error {
	return &Error{Code: ServerError, Description: fmt.Sprintf(format, args...), Status: http.StatusInternalServerError, Err: cause}
}

// DefaultStatus is the HTTP status an authorization server answers with
// for code (RFC 6749 §5.2: 400, or 401 for invalid_client).
func DefaultStatus(code string) int {
	switch code {
	case InvalidClient, InvalidToken:
		return http.StatusUnauthorized
	case InsufficientScope, AccessDenied:
		return http.StatusForbidden
	case ServerError:
		return http.StatusInternalServerError
	case TemporarilyUnavailable:
		return http.StatusServiceUnavailable
	case RateLimited, SlowDown:
		return http.StatusTooManyRequests
	}
	return http.StatusBadRequest
}

// As returns err as an *Error, or a server_error wrapping it.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Wrap(err, "internal error")
}

func (e *Error) setHeaders(h http.Header) {
	if e.DPoPNonce != "" {
		h.Set("DPoP-Nonce", e.DPoPNonce)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	h.Set("Cache-Control", "no-store")
}

// WriteJSON renders err as an RFC 6749 §5.2 JSON body. It is the only
// place the authorization server writes error bodies.
func WriteJSON(w http.ResponseWriter, err error) {
	e := As(err)
	h := w.Header()
	e.setHeaders(h)
	h.Set("Content-Type", "application/json")
	if e.Status == http.StatusUnauthorized && e.Code == InvalidClient && h.Get("WWW-Authenticate") == "" {
		// RFC 6749 §5.2: 401 for invalid_client comes with a challenge.
		h.Set("WWW-Authenticate", `Basic realm="ward"`)
	}
	w.WriteHeader(e.Status)
	body := map[string]string{"error": e.Code}
	if e.Description != "" {
		body["error_description"] = e.Description
	}
	_ = json.NewEncoder(w).Encode(body)
}

// Challenge describes the WWW-Authenticate challenges a resource server
// offers (RFC 6750 §3, RFC 9449 §7.1, RFC 9728 §5.1).
type Challenge struct {
	// DPoPAlgs are the algorithms accepted in proofs; a DPoP challenge is
	// sent when non-empty.
	DPoPAlgs []string
	// Bearer adds a Bearer challenge (when the route accepts bearer tokens).
	Bearer bool
	// Realm is optional.
	Realm string
	// ResourceMetadata is the URL of the RFC 9728 metadata document.
	ResourceMetadata string
}

// WriteChallenge renders err as a 401 or 403 with WWW-Authenticate
// challenges, the only place a resource server writes errors. The error
// attributes go on the challenge of the scheme the client used: DPoP for
// DPoP errors, or the one named by usedScheme.
func WriteChallenge(w http.ResponseWriter, err error, c Challenge, usedScheme string) {
	e := As(err)
	h := w.Header()
	e.setHeaders(h)
	errScheme := usedScheme
	if e.Code == InvalidDPoPProof || e.Code == UseDPoPNonce || !c.Bearer {
		errScheme = "DPoP"
	}
	if len(c.DPoPAlgs) > 0 {
		h.Add("WWW-Authenticate", challenge("DPoP", e, c, errScheme == "DPoP"))
	}
	if c.Bearer {
		h.Add("WWW-Authenticate", challenge("Bearer", e, c, errScheme == "Bearer"))
	}
	if e.Code != "" {
		h.Set("Content-Type", "application/json")
	}
	status := e.Status
	if status == 0 {
		status = DefaultStatus(e.Code)
	}
	if e.Code == InvalidDPoPProof || e.Code == UseDPoPNonce || e.Code == "" {
		// RFC 9449 §7.1; RFC 6750 §3.1: no credentials → 401.
		status = http.StatusUnauthorized
	}
	w.WriteHeader(status)
	if e.Code == "" {
		// RFC 6750 §3.1: a request without credentials gets the challenge
		// and no error.
		return
	}
	body := map[string]string{"error": e.Code}
	if e.Description != "" {
		body["error_description"] = e.Description
	}
	_ = json.NewEncoder(w).Encode(body)
}

func challenge(scheme string, e *Error, c Challenge, withError bool) string {
	params := map[string]string{}
	if c.Realm != "" {
		params["realm"] = c.Realm
	}
	if scheme == "DPoP" {
		params["algs"] = strings.Join(c.DPoPAlgs, " ")
	}
	if c.ResourceMetadata != "" {
		params["resource_metadata"] = c.ResourceMetadata
	}
	// RFC 6750 §3.1: no error attributes when the request had no
	// credentials at all (Code empty).
	if withError && e.Code != "" {
		params["error"] = e.Code
		if e.Description != "" {
			params["error_description"] = e.Description
		}
		if e.Scope != "" {
			params["scope"] = e.Scope
		}
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	// A fixed order: realm, error, error_description, scope, algs, the rest.
	order := map[string]int{"realm": 0, "error": 1, "error_description": 2, "scope": 3, "algs": 4, "resource_metadata": 5}
	sort.Slice(keys, func(i, j int) bool { return order[keys[i]] < order[keys[j]] })
	var b strings.Builder
	b.WriteString(scheme)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteString(`="`)
		b.WriteString(quote(params[k]))
		b.WriteByte('"')
	}
	return b.String()
}

// quote keeps a value inside a quoted-string (RFC 9110 §5.6.4): it drops
// control characters and escapes quotes and backslashes.
func quote(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
