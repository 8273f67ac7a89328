package authz

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/internal/strictjson"
)

// hintAlgs is the allow-list of an id_token_hint's algorithm: those Ward
// signs ID tokens with (docs/OIDC.md): ES256 by default, RS256 per client,
// EdDSA when the server's primary keys are Ed25519 (keys.Options).
var hintAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}

// oidcNames are the JOSE names Ward reads, with the OpenID Connect claims
// of ID and logout tokens (OIDC Core §2, Back-Channel Logout 1.0 §2.4).
var oidcNames = append(slices.Clone(strictjson.JOSENames), "azp", "sid", "events", "at_hash")

// errBadHint: the id_token_hint is not an ID token this server issued.
var errBadHint = errors.New("authz: id_token_hint is not an ID token of this server")

// hintClaims are what RP-Initiated Logout reads of an id_token_hint.
type hintClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience audience `json:"aud"`
	AZP      string   `json:"azp"`
	SID      string   `json:"sid"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
}

// clientID is the client the ID token was issued to: its one audience,
// or azp when it has several (OIDC Core §2: azp names the party it was
// issued to and must then be one of the audiences).
func (c *hintClaims) clientID() string {
	if len(c.Audience) == 1 && (c.AZP == "" || c.AZP == c.Audience[0]) {
		return c.Audience[0]
	}
	if len(c.Audience) > 1 && c.AZP != "" && slices.Contains(c.Audience, c.AZP) {
		return c.AZP
	}
	return ""
}

// verifyIDTokenHint checks that raw is an ID token this server issued
// (RP-Initiated Logout 1.0 §2: "the OP MUST validate that it was the
// issuer of the ID Token"): a compact JWS of an allowed algorithm (never
// none or HMAC, RFC 8725 §3.1), typ JWT (so an access token, typ at+jwt,
// RFC 9068 §2.1, or a logout token, typ logout+jwt, is refused), signed by
// a key the server publishes at now, iss the issuer, a subject and one
// client, and exp and iat (OIDC Core §2: REQUIRED in an ID token; a
// signed UserInfo response, also typ JWT, iss, sub and aud under the same
// keys, has neither, §5.3.2). An expired ID token is accepted (§2: the
// hint may have expired).
func (s *Server) verifyIDTokenHint(raw string, now time.Time) (*hintClaims, error) {
	if len(raw) > 8<<10 || strings.Count(raw, ".") != 2 || strictjson.CheckCompact(raw, oidcNames) != nil {
		return nil, errBadHint
	}
	tok, err := jwt.ParseSigned(raw, hintAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, errBadHint
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "JWT") {
		return nil, errBadHint
	}
	set := s.km.JWKS(now)
	ks := set.Key(h.KeyID)
	if h.KeyID == "" || len(ks) != 1 || ks[0].Algorithm != h.Algorithm {
		return nil, errBadHint
	}
	var c hintClaims
	if err := tok.Claims(ks[0].Key, &c); err != nil {
		return nil, errBadHint
	}
	if c.Issuer != s.issuer || c.Subject == "" || c.clientID() == "" || c.Expiry == 0 || c.IssuedAt == 0 {
		return nil, errBadHint
	}
	return &c, nil
}
