package authz

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/internal/jws"
	"github.com/wardauth/ward/internal/strictjson"
	"github.com/wardauth/ward/keys"
)

// atClaims are the claims of an RFC 9068 JWT access token.
type atClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience audience `json:"aud"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	JTI      string   `json:"jti"`
	IssuedAt int64    `json:"iat"`
	Expiry   int64    `json:"exp"`
	AuthTime int64    `json:"auth_time,omitempty"`
	Cnf      *cnf     `json:"cnf,omitempty"`
	// GrantID names the token family the token was issued from, so that
	// introspection reports it inactive once the family is revoked (code
	// replay, refresh-token reuse, revocation).
	GrantID string `json:"grant_id,omitempty"`
	// Act names the actor of a token issued by token exchange, and
	// through its own act the actors before it (RFC 8693 §4.1).
	Act *actor `json:"act,omitempty"`
	// MayAct names who may exchange this token (RFC 8693 §4.4); Ward
	// honours it when present and never issues it itself.
	MayAct *actor `json:"may_act,omitempty"`
}

// actor is the value of an act or may_act claim (RFC 8693 §4.1, §4.4):
// the acting party's sub, and for act the actor before it.
type actor struct {
	Subject string `json:"sub"`
	Act     *actor `json:"act,omitempty"`
}

// depth is the number of actors of a chain of act claims.
func (a *actor) depth() int {
	n := 0
	for ; a != nil; a = a.Act {
		n++
	}
	return n
}

// cnf is the confirmation claim (RFC 7800): jkt for DPoP (RFC 9449 §6.1),
// x5t#S256 for mTLS (RFC 8705 §3.1).
type cnf struct {
	JKT     string `json:"jkt,omitempty"`
	X5TS256 string `json:"x5t#S256,omitempty"`
}

// audience marshals as a string when it has one element (RFC 7519 §4.1.3).
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = audience{s}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// signJWT signs claims as a compact JWS with header {alg, kid, typ}
// (typ "at+jwt": RFC 9068 §2.1) through internal/jws, the one JWS signer
// of Ward. TestSignJWTVerifiedByGoJose checks its output with go-jose.
func signJWT(k *keys.SigningKey, typ string, claims any) (string, error) {
	hdr, err := jws.EncodeHeader(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{string(k.Algorithm), k.KeyID, typ})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	tok, err := jws.Sign(k.Signer, string(k.Algorithm), hdr, payload)
	if err != nil {
		return "", fmt.Errorf("authz: signing: %w", err)
	}
	return tok, nil
}

var errBadAccessToken = errors.New("authz: not an access token of this server")

// parseAccessToken verifies a JWT access token this server issued (for
// introspection and revocation): signature by a published key, typ at+jwt,
// iss. Expiry is the caller's business.
func (s *Server) parseAccessToken(raw string, now time.Time) (*atClaims, error) {
	if len(raw) > 8<<10 || strings.Count(raw, ".") != 2 || strictjson.CheckCompact(raw, strictjson.JOSENames) != nil {
		return nil, errBadAccessToken
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	if err != nil || len(tok.Headers) != 1 {
		return nil, errBadAccessToken
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") {
		return nil, errBadAccessToken
	}
	set := s.km.JWKS(now)
	ks := set.Key(h.KeyID)
	if len(ks) == 0 {
		return nil, errBadAccessToken
	}
	var c atClaims
	if err := tok.Claims(ks[0].Key, &c); err != nil {
		return nil, errBadAccessToken
	}
	if c.Issuer != s.issuer || c.JTI == "" {
		return nil, errBadAccessToken
	}
	return &c, nil
}
