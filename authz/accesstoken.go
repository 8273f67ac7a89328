package authz

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

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

// signJWT signs claims as a compact JWS with header typ "at+jwt" (RFC 9068
// §2.1). It signs once with the key's crypto.Signer directly, without the
// generic JOSE machinery, because it is on the hot path of the token
// endpoint. TestSignJWTVerifiedByGoJose checks its output with go-jose.
func signJWT(k *keys.SigningKey, typ string, claims any) (string, error) {
	hdr, err := encodedHeader(k, typ)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	// header "." payload "." signature (at most 64 bytes for ES256 and
	// EdDSA: 86 characters).
	buf := make([]byte, 0, len(hdr)+1+enc.EncodedLen(len(payload))+1+86)
	buf = append(buf, hdr...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	var sig []byte
	switch k.Algorithm {
	case jose.ES256:
		d := sha256.Sum256(buf)
		der, err := k.Signer.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			return "", fmt.Errorf("authz: signing: %w", err)
		}
		if sig, err = derToRaw(der, 32); err != nil {
			return "", err
		}
	case jose.EdDSA:
		if sig, err = k.Signer.Sign(rand.Reader, buf, crypto.Hash(0)); err != nil {
			return "", fmt.Errorf("authz: signing: %w", err)
		}
	default:
		return "", fmt.Errorf("authz: unsupported signing algorithm %q", k.Algorithm)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// headerKey names one encoded protected header.
type headerKey struct{ alg, kid, typ string }

// headers caches encoded protected headers: a key signs thousands of
// tokens with the same header, so it is encoded once. A handful of keys
// are live at a time (rotation overlap); the map is cleared if it ever
// holds more than maxHeaders.
var headers struct {
	sync.RWMutex
	m map[headerKey]string
}

const maxHeaders = 64

// encodedHeader returns the base64url-encoded protected header
// {"alg","kid","typ"} for k.
func encodedHeader(k *keys.SigningKey, typ string) (string, error) {
	hk := headerKey{string(k.Algorithm), k.KeyID, typ}
	headers.RLock()
	h, ok := headers.m[hk]
	headers.RUnlock()
	if ok {
		return h, nil
	}
	raw, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{hk.alg, hk.kid, hk.typ})
	if err != nil {
		return "", err
	}
	h = base64.RawURLEncoding.EncodeToString(raw)
	headers.Lock()
	if headers.m == nil || len(headers.m) >= maxHeaders {
		headers.m = make(map[headerKey]string)
	}
	headers.m[hk] = h
	headers.Unlock()
	return h, nil
}

// derToRaw converts an ASN.1 ECDSA signature to the fixed-size r‖s of JWS
// (RFC 7518 §3.4).
func derToRaw(der []byte, size int) ([]byte, error) {
	var r, s []byte
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) || !seq.Empty() {
		return nil, errors.New("authz: malformed ECDSA signature")
	}
	// ReadASN1Integer into []byte refuses negative values and returns
	// the big-endian magnitude without leading zeros.
	if len(r) > size || len(s) > size {
		return nil, errors.New("authz: malformed ECDSA signature")
	}
	out := make([]byte, 2*size)
	copy(out[size-len(r):size], r)
	copy(out[2*size-len(s):], s)
	return out, nil
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
