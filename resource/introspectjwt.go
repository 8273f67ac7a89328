package resource

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/internal/strictjson"
)

// This file verifies JWT introspection responses (RFC 9701): the
// authorization server signs its RFC 7662 answer for the resource server
// that asked, so that the answer can be kept and shown to a third party,
// and a network attacker between the two cannot alter it.

// MediaTypeIntrospectionJWT is the Accept and Content-Type of a JWT
// introspection response (RFC 9701 §4).
const MediaTypeIntrospectionJWT = "application/token-introspection+jwt"

// ErrIntrospectionJWT wraps every reason a JWT introspection response is
// refused; it also wraps ErrIntrospection.
var ErrIntrospectionJWT = fmt.Errorf("%w: JWT response refused", ErrIntrospection)

// DefaultIntrospectionJWTAlgs are the algorithms an
// IntrospectionJWTVerifier accepts unless Algorithms says otherwise:
// Ward's ES256 and EdDSA, and RS256. none and HMAC never are.
var DefaultIntrospectionJWTAlgs = []string{"ES256", "EdDSA", "RS256"}

// IntrospectionJWTVerifier checks the JWT introspection responses of one
// issuer for one resource server (RFC 9701 §5).
type IntrospectionJWTVerifier struct {
	// Issuer must be the response's iss.
	Issuer string
	// ClientID is the resource server's client ID: the response's aud
	// must name it.
	ClientID string
	// Keys are the issuer's verification keys (its jwks_uri).
	Keys KeySource
	// Algorithms allowed (RFC 8725 §3.1); default
	// DefaultIntrospectionJWTAlgs. none and HS* are ignored.
	Algorithms []string
	// MaxAge bounds how old (iat) a response may be, so that an old
	// answer cannot be replayed as a current one; default 1 minute. The
	// same is allowed for iat in the future (clock skew).
	MaxAge time.Duration
	// Clock; default time.Now.
	Clock func() time.Time
}

// introspectionNames are the names, beyond strictjson.JOSENames, whose
// case variants a response may not carry.
var introspectionNames = append([]string{"token_introspection", "active", "username", "token_type"}, strictjson.JOSENames...)

// introspectionJWTClaims is the payload of RFC 9701 §5.
type introspectionJWTClaims struct {
	Issuer   string          `json:"iss"`
	Audience audience        `json:"aud"`
	IssuedAt json.RawMessage `json:"iat"`
	// TokenIntrospection is the RFC 7662 §2.2 response.
	TokenIntrospection json.RawMessage `json:"token_introspection"`
}

func introspectionRefused(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrIntrospectionJWT}, args...)...)
}

// Verify checks raw, the body of a JWT introspection response, and
// returns the introspection it carries. Every refusal wraps
// ErrIntrospectionJWT.
func (v *IntrospectionJWTVerifier) Verify(ctx context.Context, raw string) (*Introspection, error) {
	raw = strings.TrimSpace(raw)
	if len(raw) > maxDocument {
		return nil, introspectionRefused("larger than 1 MiB")
	}
	if err := strictjson.CheckCompact(raw, introspectionNames); err != nil {
		return nil, introspectionRefused("%v", err)
	}
	payload, err := v.verifySignature(ctx, raw)
	if err != nil {
		return nil, err
	}
	var c introspectionJWTClaims
	if err := strictjson.Unmarshal(payload, &c); err != nil {
		return nil, introspectionRefused("claims: %v", err)
	}
	if err := v.checkClaims(&c); err != nil {
		return nil, err
	}
	var in claims
	if err := strictjson.Unmarshal(c.TokenIntrospection, &in); err != nil || in.Active == nil {
		return nil, introspectionRefused("token_introspection is not an RFC 7662 object with active")
	}
	return in.introspection()
}

// verifySignature checks the header — an allowed algorithm, typ
// token-introspection+jwt (RFC 9701 §5, never another JWT passed off as
// one), a kid, no key of its own, no crit — and the signature.
func (v *IntrospectionJWTVerifier) verifySignature(ctx context.Context, raw string) ([]byte, error) {
	h64, _, _ := strings.Cut(raw, ".")
	hb, err := base64.RawURLEncoding.DecodeString(h64)
	var h jwsHeader
	if err != nil || strictjson.Unmarshal(hb, &h) != nil {
		return nil, introspectionRefused("header is not a JSON object")
	}
	algs := v.Algorithms
	if algs == nil {
		algs = DefaultIntrospectionJWTAlgs
	}
	if h.Alg == "none" || strings.HasPrefix(h.Alg, "HS") || !contains(algs, h.Alg) {
		return nil, introspectionRefused("algorithm %q is not accepted", h.Alg)
	}
	if t := strings.ToLower(h.Typ); t != "token-introspection+jwt" && t != MediaTypeIntrospectionJWT {
		return nil, introspectionRefused("typ %q is not token-introspection+jwt", h.Typ)
	}
	if h.JKU != nil || h.X5U != nil || h.X5C != nil || h.JWK != nil || h.Crit != nil || h.B64 != nil || h.Kid == "" {
		return nil, introspectionRefused("header names its own key, has critical extensions or no kid")
	}
	key, err := v.Keys.Key(ctx, h.Kid)
	if err != nil {
		return nil, fmt.Errorf("%w: issuer key %q: %w", ErrIntrospectionJWT, h.Kid, err)
	}
	if key.Algorithm != "" && key.Algorithm != h.Alg {
		return nil, introspectionRefused("algorithm does not match its key")
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(h.Alg)})
	if err != nil {
		return nil, introspectionRefused("not a valid JWS")
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, introspectionRefused("signature does not verify")
	}
	return payload, nil
}

// checkClaims applies RFC 9701 §5: iss the issuer, aud the resource
// server, iat fresh.
func (v *IntrospectionJWTVerifier) checkClaims(c *introspectionJWTClaims) error {
	if v.Issuer == "" || c.Issuer != v.Issuer {
		return introspectionRefused("iss %q is not %q", clipStr(c.Issuer), v.Issuer)
	}
	if v.ClientID == "" || !contains(c.Audience, v.ClientID) {
		return introspectionRefused("aud does not name %q", v.ClientID)
	}
	iat, present, ok := numericDate(c.IssuedAt)
	if !present || !ok {
		return introspectionRefused("iat missing or not a NumericDate")
	}
	now, maxAge := time.Now(), v.MaxAge
	if v.Clock != nil {
		now = v.Clock()
	}
	if maxAge <= 0 {
		maxAge = time.Minute
	}
	if d := now.Sub(iat); d > maxAge || d < -maxAge {
		return introspectionRefused("iat %s is more than %s from now", iat.UTC().Format(time.RFC3339), maxAge)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func clipStr(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
