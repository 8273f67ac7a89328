package authz

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/internal/strictjson"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// JWT-secured authorization requests (RFC 9101): a client sends its
// authorization request as a request object, a JWT signed with one of its
// registered keys, by value in the request parameter, at the authorization
// endpoint or at the PAR endpoint (RFC 9126 §3). Request objects by
// reference (request_uri other than PAR's) and encrypted ones are not
// supported.
const (
	// requestObjectType is the explicit type of a request object (RFC
	// 9101 §10.8, FAPI 2.0 Message Signing §5.3.1).
	requestObjectType = "oauth-authz-req+jwt"
	// maxRequestObjectBytes bounds the compact JWS before any decoding.
	maxRequestObjectBytes = 32 << 10
	// maxRequestObjectLifetime bounds exp - nbf and the age of nbf (FAPI
	// 2.0 Message Signing §5.3.1: at most 60 minutes each), and so how
	// long a jti is remembered.
	maxRequestObjectLifetime = 60 * time.Minute
	// requestObjectSkew is how far in the future nbf and iat may be (FAPI
	// 2.0 Security Profile §5.3.2.1 accepts 0 to 10 seconds).
	requestObjectSkew = 10 * time.Second
	// errRequestURINotSupported: request_uri by reference (OIDC Core
	// §3.1.2.6; RFC 9101 §5.2). Only PAR's request_uri is read.
	errRequestURINotSupported = "request_uri_not_supported"
)

// requestObjectNames are the member names whose case variants a request
// object may not carry (strictjson.CheckCompact): the registered JOSE
// names and the authorization request parameters Ward reads.
var requestObjectNames = append(slices.Clone(strictjson.JOSENames),
	"response_type", "response_mode", "redirect_uri", "state", "code_challenge", "code_challenge_method",
	"resource", "dpop_jkt", "prompt", "max_age", "login_hint", "id_token_hint", "acr_values", "claims",
	"ui_locales", "request", "request_uri")

// requestObjectClaims are the JWT claims of a request object that are not
// authorization request parameters: they are checked, not passed on.
var requestObjectClaims = []string{"iss", "aud", "exp", "nbf", "iat", "jti", "sub"}

// requestObjectCheck is what a request object is verified against.
type requestObjectCheck struct {
	algs     []jose.SignatureAlgorithm
	keys     *jose.JSONWebKeySet // the client's registered keys; nil: none
	clientID string
	issuer   string
	now      time.Time
}

// verifiedRequestObject is a request object that passed every check but
// the single use of its jti.
type verifiedRequestObject struct {
	params url.Values
	jti    string
	exp    time.Time
}

func invalidRequestObject(format string, args ...any) *oauth.Error {
	return oauth.New(oauth.InvalidRequestObject, format, args...)
}

// requestObject verifies the request object raw of client c and returns
// the authorization request it carries (RFC 9101 §6): its signature with
// the client's keys, its claims, and its jti, used once (useRequestObject).
func (s *Server) requestObject(ctx context.Context, c *client, raw string) (url.Values, *oauth.Error) {
	ro, e := s.checkRequestObject(c, raw)
	if e != nil {
		return nil, e
	}
	if e := s.useRequestObject(ctx, c, ro); e != nil {
		return nil, e
	}
	return ro.params, nil
}

// checkRequestObject verifies the request object raw of client c without
// using up its jti.
func (s *Server) checkRequestObject(c *client, raw string) (*verifiedRequestObject, *oauth.Error) {
	return verifyRequestObject(raw, requestObjectCheck{algs: s.requestObjectAlgsFor(c), keys: c.jwks, clientID: c.ID, issuer: s.issuer, now: s.now()})
}

// useRequestObject records the jti of a verified request object until it
// expires: a second use is refused (RFC 9101 §10.1 replay), by every
// instance of the store.
func (s *Server) useRequestObject(ctx context.Context, c *client, ro *verifiedRequestObject) *oauth.Error {
	if err := s.st.UseOnce(ctx, "request_object:"+c.ID+":"+ro.jti, ro.exp, s.now()); err != nil {
		if errors.Is(err, store.ErrAlreadyUsed) {
			return invalidRequestObject("the request object was used before (jti replay)")
		}
		return oauth.Wrap(err, "cannot record the request object's jti")
	}
	return nil
}

// verifyRequestObject checks a request object without the store: its
// shape, its signature under the algorithm allow-list with one of the
// client's keys, its claims and its parameters.
func verifyRequestObject(raw string, chk requestObjectCheck) (*verifiedRequestObject, *oauth.Error) {
	tok, e := parseRequestObject(raw, chk.algs)
	if e != nil {
		return nil, e
	}
	if chk.keys == nil || len(chk.keys.Keys) == 0 {
		return nil, invalidRequestObject("this client has no registered keys to verify request objects with")
	}
	var claims jwt.Claims
	if !verifyWithSet(tok, chk.keys, &claims) {
		return nil, invalidRequestObject("the request object's signature does not verify with the client's registered keys")
	}
	if err := checkRequestObjectClaims(&claims, chk.clientID, chk.issuer, chk.now); err != nil {
		return nil, invalidRequestObject("%s", err)
	}
	// The payload verified above, read again under the strictjson rules
	// (parseRequestObject checked them) for the parameters.
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	params, e := requestObjectParams(payload, chk.clientID)
	if e != nil {
		return nil, e
	}
	return &verifiedRequestObject{params: params, jti: claims.ID, exp: claims.Expiry.Time()}, nil
}

// parseRequestObject reads the compact JWS of a request object, before any
// verification: not encrypted (RFC 9101 §6.1: Ward registers no
// encryption keys for clients), member names unique and not case variants
// of registered ones (RFC 7515 §4, RFC 8259 §4), an algorithm of the
// allow-list (never none nor HMAC: RFC 8725 §3.1), and an explicit type
// that is a request object's or absent.
func parseRequestObject(raw string, algs []jose.SignatureAlgorithm) (*jwt.JSONWebToken, *oauth.Error) {
	if raw == "" || len(raw) > maxRequestObjectBytes {
		return nil, invalidRequestObject("the request object is empty or larger than %d bytes", maxRequestObjectBytes)
	}
	switch strings.Count(raw, ".") {
	case 2:
	case 4:
		return nil, invalidRequestObject("encrypted request objects are not supported; send a signed request object to the PAR endpoint")
	default:
		return nil, invalidRequestObject("the request object is not a compact JWS")
	}
	if err := strictjson.CheckCompact(raw, requestObjectNames); err != nil {
		return nil, invalidRequestObject("the request object's header or claims are not a JSON object with unique, exactly spelled member names")
	}
	tok, err := jwt.ParseSigned(raw, algs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, invalidRequestObject("the request object is not signed with an allowed algorithm (%s)", algNames(algs))
	}
	if !requestObjectTyp(tok.Headers[0]) {
		return nil, invalidRequestObject("the request object's typ must be %s (or JWT, or absent)", requestObjectType)
	}
	return tok, nil
}

// requestObjectTyp reports whether the header's typ is one a request
// object may carry: oauth-authz-req+jwt (RFC 9101 §10.8), JWT, or none,
// compared as media types are (RFC 7515 §4.1.9: case-insensitive, the
// "application/" prefix optional). Any other type (dpop+jwt, at+jwt,
// logout+jwt, ...) is another kind of JWT and refused.
func requestObjectTyp(h jose.Header) bool {
	v, ok := h.ExtraHeaders[jose.HeaderType]
	if !ok {
		return true
	}
	typ, isString := v.(string)
	if !isString {
		return false
	}
	typ = strings.ToLower(typ)
	typ = strings.TrimPrefix(typ, "application/")
	return typ == requestObjectType || typ == "jwt"
}

func algNames(algs []jose.SignatureAlgorithm) string {
	return strings.Join(algNamesList(algs), ", ")
}

var (
	errRequestObjectIss = errors.New("iss must be the client_id")
	errRequestObjectAud = errors.New("aud must be this server's issuer identifier")
	errRequestObjectExp = errors.New("exp is required and must be in the future")
	errRequestObjectNbf = errors.New("nbf is required, at most 60 minutes in the past and not in the future")
	errRequestObjectTTL = errors.New("the request object's lifetime (exp - nbf) exceeds 60 minutes")
	errRequestObjectIat = errors.New("iat is in the future")
	errRequestObjectJTI = errors.New("jti is required (at most 256 characters)")
)

// checkRequestObjectClaims applies RFC 9101 §4, §6.3 and §10.1 and FAPI
// 2.0 Message Signing §5.3.1 to verified claims: iss the client, aud this
// server's issuer, exp in the future and at most 60 minutes after nbf, nbf
// present, not in the future and at most 60 minutes old, jti present.
func checkRequestObjectClaims(c *jwt.Claims, clientID, issuer string, now time.Time) error {
	if c.Issuer != clientID {
		return errRequestObjectIss
	}
	if !slices.Contains(c.Audience, issuer) {
		return errRequestObjectAud
	}
	if c.Expiry == nil || !c.Expiry.Time().After(now) {
		return errRequestObjectExp
	}
	if c.NotBefore == nil {
		return errRequestObjectNbf
	}
	nbf := c.NotBefore.Time()
	if nbf.After(now.Add(requestObjectSkew)) || nbf.Before(now.Add(-maxRequestObjectLifetime)) {
		return errRequestObjectNbf
	}
	if c.Expiry.Time().Sub(nbf) > maxRequestObjectLifetime {
		return errRequestObjectTTL
	}
	if c.IssuedAt != nil && c.IssuedAt.Time().After(now.Add(requestObjectSkew)) {
		return errRequestObjectIat
	}
	if c.ID == "" || len(c.ID) > 256 {
		return errRequestObjectJTI
	}
	return nil
}

// requestObjectParams turns the claims of a verified request object into
// authorization request parameters (RFC 9101 §4): the JWT claims of
// requestObjectClaims are dropped; client_id is required and must be the
// client's (RFC 9101 §5, RFC 9126 §3); request and request_uri may not be
// nested; values are strings, except max_age (a number), resource (a
// string or an array of them, RFC 8707) and claims (a JSON object, OIDC
// Core §5.5). The result passes the limits of any form (parseParams).
func requestObjectParams(payload []byte, clientID string) (url.Values, *oauth.Error) {
	var members map[string]json.RawMessage
	if err := strictjson.Unmarshal(payload, &members); err != nil || members == nil {
		return nil, invalidRequestObject("the request object's claims are not a JSON object")
	}
	if _, ok := members["request"]; ok {
		return nil, invalidRequestObject("a request object may not hold request or request_uri (RFC 9101 §4)")
	}
	if _, ok := members["request_uri"]; ok {
		return nil, invalidRequestObject("a request object may not hold request or request_uri (RFC 9101 §4)")
	}
	v := url.Values{}
	for name, raw := range members {
		if slices.Contains(requestObjectClaims, name) {
			continue
		}
		vals, ok := requestObjectValue(name, raw)
		if !ok {
			return nil, invalidRequestObject("parameters must be strings (max_age a number, resource a string or an array of strings, claims an object)")
		}
		v[name] = vals
	}
	if v.Get("client_id") != clientID {
		return nil, invalidRequestObject("the request object's client_id must be present and the client's")
	}
	params, err := parseParams(v.Encode())
	if err != nil {
		return nil, oauth.As(err)
	}
	return params, nil
}

// requestObjectValue is the parameter value of one claim, false when the
// claim has a type its parameter cannot take.
func requestObjectValue(name string, raw json.RawMessage) ([]string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	switch {
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		return []string{s}, true
	case name == "max_age" && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9'):
		return []string{string(raw)}, true
	case name == "resource" && raw[0] == '[':
		var list []string
		if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
			return nil, false
		}
		return list, true
	case name == "claims" && raw[0] == '{':
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			return nil, false
		}
		return []string{b.String()}, true
	}
	return nil, false
}

// clientKeys are the keys of a client's JWKS document, nil when it has
// none or cannot be read.
func clientKeys(doc []byte) []jose.JSONWebKey {
	var set jose.JSONWebKeySet
	if len(doc) == 0 || json.Unmarshal(doc, &set) != nil {
		return nil
	}
	return set.Keys
}
