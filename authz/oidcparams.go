package authz

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wardauth/ward/internal/strictjson"
	"github.com/wardauth/ward/oauth"
)

// OpenID Connect authentication request parameters (OIDC Core §3.1.2.1):
// each is parsed here, syntax only, by a function a fuzz target drives.

// ACRPassword is Ward's one authentication context class: a password
// login. It is the acr of every ID token and the one value of
// acr_values_supported.
const ACRPassword = "urn:ward:acr:pwd"

// amrPassword is the amr of a password login (RFC 8176 §2 "pwd").
var amrPassword = []string{"pwd"}

// Bounds on the OpenID Connect parameters: they travel in the sealed flow
// state through the browser, and into codes and families.
const (
	maxNonceBytes     = 512
	maxLoginHintBytes = 256
	maxIDTokenHint    = 8 << 10
	maxClaimsBytes    = 4 << 10
	maxClaimsDepth    = 6
	maxClaimsPerPart  = 64
	maxClaimNameBytes = 64
	maxUILocales      = 10
	maxACRValues      = 10
	maxACRValueBytes  = 256
	maxMaxAgeDigits   = 10
)

// parsePrompt checks prompt (OIDC Core §3.1.2.1): a space-separated set of
// none, login, consent and select_account, none alone. It returns the
// values joined by single spaces in their order, without duplicates.
func parsePrompt(p string) (string, *oauth.Error) {
	if len(p) > 128 {
		return "", oauth.New(oauth.InvalidRequest, "prompt is too long")
	}
	var vals []string
	for _, v := range strings.Fields(p) {
		switch v {
		case oauth.PromptNone, oauth.PromptLogin, oauth.PromptConsent, oauth.PromptSelectAccount:
		default:
			return "", oauth.New(oauth.InvalidRequest, "prompt must be none, login, consent or select_account")
		}
		if !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	if slices.Contains(vals, oauth.PromptNone) && len(vals) > 1 {
		// OIDC Core §3.1.2.1: none with any other value is an error.
		return "", oauth.New(oauth.InvalidRequest, "prompt=none cannot be combined with other values")
	}
	return strings.Join(vals, " "), nil
}

// hasPrompt reports whether the normalised prompt holds v.
func hasPrompt(prompt, v string) bool { return slices.Contains(strings.Fields(prompt), v) }

// parseMaxAge reads max_age (OIDC Core §3.1.2.1): a non-negative number
// of seconds, digits only. nil when absent.
func parseMaxAge(v string) (*int64, *oauth.Error) {
	if v == "" {
		return nil, nil
	}
	bad := oauth.New(oauth.InvalidRequest, "max_age must be a number of seconds (digits only)")
	if len(v) > maxMaxAgeDigits {
		return nil, bad
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return nil, bad
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, bad
	}
	return &n, nil
}

var localeTag = regexp.MustCompile(`^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$`)

// parseUILocales reads ui_locales (OIDC Core §3.1.2.1): BCP 47 tags in
// order of preference. Tags that are not well formed are dropped, not an
// error (the parameter is a preference), and at most maxUILocales kept.
func parseUILocales(v string) []string {
	var out []string
	for _, t := range strings.Fields(v) {
		if len(out) == maxUILocales {
			break
		}
		if len(t) <= 35 && localeTag.MatchString(t) {
			out = append(out, t)
		}
	}
	return out
}

// parseACRValues reads acr_values: requested classes, recorded; Ward has
// one class (ACRPassword), which it asserts whatever was asked (acr_values
// is a voluntary request, OIDC Core §3.1.2.1).
func parseACRValues(v string) ([]string, *oauth.Error) {
	vals := strings.Fields(v)
	if len(vals) > maxACRValues {
		return nil, oauth.New(oauth.InvalidRequest, "acr_values has too many values")
	}
	for _, a := range vals {
		if len(a) > maxACRValueBytes {
			return nil, oauth.New(oauth.InvalidRequest, "an acr_values value is too long")
		}
	}
	return vals, nil
}

// A claim is released, in the ID token or at UserInfo, only under a
// granted scope that covers it (scopeClaims, claims.go): the consent page
// shows scopes, so a claims request cannot reach past what the user
// agreed to.

// claimGranted reports whether a granted scope releases the claim.
func claimGranted(scope, claim string) bool {
	for _, s := range strings.Fields(scope) {
		if slices.Contains(scopeClaims[s], claim) {
			return true
		}
	}
	return false
}

// claimsRequest is the claims request parameter (OIDC Core §5.5): the
// individual claims asked for in the ID token and at UserInfo. A nil
// entry requests the claim in the default manner.
type claimsRequest struct {
	IDToken  map[string]*claimSpec `json:"id_token,omitempty"`
	UserInfo map[string]*claimSpec `json:"userinfo,omitempty"`
}

// claimSpec is one claim's request (OIDC Core §5.5.1).
type claimSpec struct {
	Essential bool              `json:"essential,omitempty"`
	Value     json.RawMessage   `json:"value,omitempty"`
	Values    []json.RawMessage `json:"values,omitempty"`
}

// parseClaimsRequest parses the claims parameter under the strictjson
// rules (case-sensitive names, duplicates refused), bounded in size
// (maxClaimsBytes), nesting (maxClaimsDepth) and count; members other
// than id_token and userinfo are ignored (OIDC Core §5.5). It returns the
// request and its canonical JSON, which is what codes and families keep.
func parseClaimsRequest(v string) (*claimsRequest, string, *oauth.Error) {
	if v == "" {
		return nil, "", nil
	}
	bad := func(why string) (*claimsRequest, string, *oauth.Error) {
		return nil, "", oauth.New(oauth.InvalidRequest, "claims: %s (OIDC Core §5.5)", why)
	}
	if len(v) > maxClaimsBytes {
		return bad(fmt.Sprintf("longer than %d bytes", maxClaimsBytes))
	}
	if jsonDepth([]byte(v)) > maxClaimsDepth {
		return bad("nested too deeply")
	}
	if t := bytes.TrimLeft([]byte(v), " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return bad("not a JSON object")
	}
	var cr claimsRequest
	if err := strictjson.Unmarshal([]byte(v), &cr); err != nil {
		return bad("not a valid claims request object")
	}
	for _, part := range []map[string]*claimSpec{cr.IDToken, cr.UserInfo} {
		if len(part) > maxClaimsPerPart {
			return bad("too many claims")
		}
		for name := range part {
			if name == "" || len(name) > maxClaimNameBytes {
				return bad("a claim name is empty or too long")
			}
		}
	}
	canon, err := json.Marshal(&cr)
	if err != nil {
		return bad("cannot be re-encoded")
	}
	return &cr, string(canon), nil
}

// jsonDepth returns the deepest nesting of objects and arrays in b,
// ignoring brackets inside strings.
func jsonDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// essentialACRUnmet reports whether the claims request makes acr an
// essential ID token claim with values Ward cannot assert: OIDC Core
// §5.5.1.1 then treats the authentication as failed.
func (cr *claimsRequest) essentialACRUnmet() bool {
	if cr == nil || cr.IDToken["acr"] == nil || !cr.IDToken["acr"].Essential {
		return false
	}
	spec := cr.IDToken["acr"]
	want := spec.Values
	if spec.Value != nil {
		want = append(want, spec.Value)
	}
	if len(want) == 0 {
		return false
	}
	for _, w := range want {
		var s string
		if json.Unmarshal(w, &s) == nil && s == ACRPassword {
			return false
		}
	}
	return true
}

// requestedSub returns the sub value the claims request demands of the ID
// token (OIDC Core §5.5.1), or "".
func (cr *claimsRequest) requestedSub() string {
	if cr == nil || cr.IDToken["sub"] == nil {
		return ""
	}
	var s string
	_ = json.Unmarshal(cr.IDToken["sub"].Value, &s)
	return s
}

// oidcParams reads the OpenID Connect parameters of an authorization
// request into req (syntax only; id_token_hint is verified against the
// server's keys by validateAuthorization).
func oidcParams(req *authRequest, params url.Values) *oauth.Error {
	var e *oauth.Error
	if req.Prompt, e = parsePrompt(params.Get("prompt")); e != nil {
		return e
	}
	if req.MaxAge, e = parseMaxAge(params.Get("max_age")); e != nil {
		return e
	}
	if req.ACRValues, e = parseACRValues(params.Get("acr_values")); e != nil {
		return e
	}
	var cr *claimsRequest
	if cr, req.Claims, e = parseClaimsRequest(params.Get("claims")); e != nil {
		return e
	}
	if cr.essentialACRUnmet() {
		return oauth.New(oauth.AccessDenied, "the essential acr values requested cannot be met; Ward asserts %s", ACRPassword)
	}
	req.HintSub = cr.requestedSub()
	req.Nonce, req.LoginHint = params.Get("nonce"), params.Get("login_hint")
	req.IDTokenHint = params.Get("id_token_hint")
	switch {
	case len(req.Nonce) > maxNonceBytes:
		return oauth.New(oauth.InvalidRequest, "nonce is too long")
	case len(req.LoginHint) > maxLoginHintBytes:
		return oauth.New(oauth.InvalidRequest, "login_hint is too long")
	case len(req.IDTokenHint) > maxIDTokenHint:
		return oauth.New(oauth.InvalidRequest, "id_token_hint is too long")
	}
	req.UILocales = parseUILocales(params.Get("ui_locales"))
	return nil
}
