package resource

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/internal/strictjson"
)

// claims are the RFC 9068 §2.2 claims, plus cnf (RFC 7800, RFC 9449 §6,
// RFC 8705 §3). The same shape serves RFC 7662 introspection responses.
type claims struct {
	Active    *bool           `json:"active,omitempty"` // introspection only
	Issuer    string          `json:"iss"`
	Subject   string          `json:"sub"`
	ClientID  string          `json:"client_id"`
	Audience  audience        `json:"aud"`
	Expiry    json.RawMessage `json:"exp"`
	IssuedAt  json.RawMessage `json:"iat"`
	NotBefore json.RawMessage `json:"nbf"`
	JTI       string          `json:"jti"`
	Scope     json.RawMessage `json:"scope"`    // a string, or an array (scopeList)
	GrantID   string          `json:"grant_id"` // Ward's token family
	Cnf       *struct {
		JKT     string `json:"jkt"`
		X5TS256 string `json:"x5t#S256"`
	} `json:"cnf"`
}

// audience is a string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

// numericDate parses an RFC 7519 NumericDate; ok is false when absent or
// ill-typed.
func numericDate(raw json.RawMessage) (t time.Time, present, ok bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, false, true
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, true, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, true
}

// tokenError is a refused token: the reason and a description safe to send.
type tokenError struct {
	reason Reason
	desc   string
	err    error
}

func (e *tokenError) Error() string { return e.reason + ": " + e.desc }
func (e *tokenError) Unwrap() error { return e.err }

func refuse(r Reason, desc string) *tokenError { return &tokenError{reason: r, desc: desc} }

// jwsHeader is the protected header of an access token. Fields that would
// let the token choose its own key are recorded to be refused.
type jwsHeader struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ"`
	Kid  string          `json:"kid"`
	JKU  json.RawMessage `json:"jku"`
	X5U  json.RawMessage `json:"x5u"`
	X5C  json.RawMessage `json:"x5c"`
	JWK  json.RawMessage `json:"jwk"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
}

// looksLikeJWT reports whether tok has the shape of a compact JWS: three
// base64url parts. Anything else is an opaque token.
func looksLikeJWT(tok string) bool {
	return strings.Count(tok, ".") == 2
}

// verifyJWS checks an access token's header and signature with the keys
// of its issuer e and returns its claims, as the standard ones and as a
// map for the issuer's claim mapping; time, issuer and audience are
// checked by the caller.
func verifyJWS(ctx context.Context, tok string, e *issuerEntry) (*claims, map[string]json.RawMessage, *tokenError) {
	algs, keys := e.algs, e.Keys
	h64, rest, _ := strings.Cut(tok, ".")
	hb, err := base64.RawURLEncoding.DecodeString(h64)
	if err != nil {
		return nil, nil, refuse(ReasonMalformedToken, "access token is not a compact JWS")
	}
	// RFC 7515 §4, RFC 8259 §4: names matched exactly, none repeated.
	var h jwsHeader
	if err := strictjson.Unmarshal(hb, &h); err != nil {
		return nil, nil, refuse(ReasonMalformedToken, "access token header is not a JSON object")
	}
	// RFC 8725 §3.1: the algorithm comes from our allow-list, never from
	// the token alone; none and HMAC are never in it.
	if !algs[h.Alg] {
		return nil, nil, refuse(ReasonBadTokenAlg, "access token algorithm is not accepted")
	}
	if terr := checkTyp(h.Typ, e.Profile); terr != nil {
		return nil, nil, terr
	}
	if h.JKU != nil || h.X5U != nil || h.X5C != nil || h.JWK != nil {
		return nil, nil, refuse(ReasonForbiddenHeader, "access token header names its own key (jku, x5u, x5c or jwk): keys come only from the issuer's JWKS")
	}
	if h.Crit != nil || h.B64 != nil {
		return nil, nil, refuse(ReasonForbiddenHeader, "access token header has critical extensions, which are not supported")
	}
	if h.Kid == "" {
		return nil, nil, refuse(ReasonUnknownKID, "access token header has no kid")
	}
	key, kerr := keys.Key(ctx, h.Kid)
	switch {
	case errors.Is(kerr, ErrUnknownKID):
		return nil, nil, &tokenError{reason: ReasonUnknownKID, desc: "access token signed with a key the issuer does not publish", err: kerr}
	case kerr != nil:
		return nil, nil, &tokenError{reason: ReasonKeysUnavailable, desc: "issuer keys are unavailable", err: kerr}
	}
	if key.Algorithm != "" && key.Algorithm != h.Alg {
		return nil, nil, refuse(ReasonBadTokenAlg, "access token algorithm does not match its key")
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(h.Alg)})
	if err != nil {
		return nil, nil, &tokenError{reason: ReasonMalformedToken, desc: "access token is not a valid JWS", err: err}
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, nil, &tokenError{reason: ReasonBadSignature, desc: "access token signature does not verify", err: err}
	}
	_ = rest
	c, raw, err := parseClaims(payload)
	if err != nil {
		return nil, nil, &tokenError{reason: ReasonBadClaim, desc: "access token claims are not a JSON object of the right types", err: err}
	}
	return c, raw, nil
}

// parseClaims decodes a JWT's payload: the standard claims, and every
// claim raw for the issuer's claim mapping.
func parseClaims(payload []byte) (*claims, map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	if err := strictjson.Unmarshal(payload, &raw); err != nil {
		return nil, nil, err
	}
	var c claims
	if err := strictjson.Unmarshal(payload, &c); err != nil {
		return nil, nil, err
	}
	c.Active = nil // not a JWT claim
	return &c, raw, nil
}

// checkTyp applies the profile's rule to the JWS typ header. RFC 9068 §4:
// at+jwt (or the full media type). legacy-jwt: also JWT or no typ, the
// defaults of most identity providers, but never another explicit type
// (an ID token's, a logout token's, a DPoP proof's).
func checkTyp(typ string, p Profile) *tokenError {
	switch t := strings.ToLower(typ); {
	case t == "at+jwt" || t == "application/at+jwt":
		return nil
	case p == ProfileLegacyJWT && (t == "" || t == "jwt"):
		return nil
	case p == ProfileLegacyJWT:
		return refuse(ReasonBadTokenType, `access token typ must be "at+jwt", "JWT" or absent (legacy-jwt profile)`)
	}
	return refuse(ReasonBadTokenType, `access token typ must be "at+jwt" (RFC 9068)`)
}
