package resource

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
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
	Scope     string          `json:"scope"`
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

// verifyJWT checks an RFC 9068 access token's header and signature and
// returns its claims; time, issuer and audience are checked by the
// caller.
func verifyJWT(ctx context.Context, tok string, algs map[string]bool, keys KeySource) (*claims, *tokenError) {
	h64, rest, _ := strings.Cut(tok, ".")
	hb, err := base64.RawURLEncoding.DecodeString(h64)
	if err != nil {
		return nil, refuse(ReasonMalformedToken, "access token is not a compact JWS")
	}
	var h jwsHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, refuse(ReasonMalformedToken, "access token header is not a JSON object")
	}
	// RFC 8725 §3.1: the algorithm comes from our allow-list, never from
	// the token alone; none and HMAC are never in it.
	if !algs[h.Alg] {
		return nil, refuse(ReasonBadTokenAlg, "access token algorithm is not accepted")
	}
	// RFC 9068 §4: typ must be at+jwt (or the full media type).
	if t := strings.ToLower(h.Typ); t != "at+jwt" && t != "application/at+jwt" {
		return nil, refuse(ReasonBadTokenType, `access token typ must be "at+jwt" (RFC 9068)`)
	}
	if h.JKU != nil || h.X5U != nil || h.X5C != nil || h.JWK != nil {
		return nil, refuse(ReasonForbiddenHeader, "access token header names its own key (jku, x5u, x5c or jwk): keys come only from the issuer's JWKS")
	}
	if h.Crit != nil || h.B64 != nil {
		return nil, refuse(ReasonForbiddenHeader, "access token header has critical extensions, which are not supported")
	}
	if h.Kid == "" {
		return nil, refuse(ReasonUnknownKID, "access token header has no kid")
	}
	key, kerr := keys.Key(ctx, h.Kid)
	switch {
	case errors.Is(kerr, ErrUnknownKID):
		return nil, &tokenError{reason: ReasonUnknownKID, desc: "access token signed with a key the issuer does not publish", err: kerr}
	case kerr != nil:
		return nil, &tokenError{reason: ReasonKeysUnavailable, desc: "issuer keys are unavailable", err: kerr}
	}
	if key.Algorithm != "" && key.Algorithm != h.Alg {
		return nil, refuse(ReasonBadTokenAlg, "access token algorithm does not match its key")
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(h.Alg)})
	if err != nil {
		return nil, &tokenError{reason: ReasonMalformedToken, desc: "access token is not a valid JWS", err: err}
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, &tokenError{reason: ReasonBadSignature, desc: "access token signature does not verify", err: err}
	}
	_ = rest
	var c claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&c); err != nil {
		return nil, &tokenError{reason: ReasonBadClaim, desc: "access token claims are not a JSON object of the right types", err: err}
	}
	c.Active = nil // not a JWT claim
	return &c, nil
}
