package client

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/internal/strictjson"
)

// DefaultIDTokenAlgs are the ID token algorithms an IDTokenVerifier
// accepts unless WithIDTokenAlgs says otherwise: Ward's default ES256 and
// the RS256 that OpenID Connect Core §15.1 makes every provider support.
// none and HMAC are never accepted.
var DefaultIDTokenAlgs = []string{"ES256", "RS256"}

// DefaultIDTokenLeeway is the clock difference allowed on exp, iat and
// auth_time.
const DefaultIDTokenLeeway = time.Minute

// ErrIDToken wraps every reason an ID token is refused (OpenID Connect
// Core §3.1.3.7); the message names the rule.
var ErrIDToken = errors.New("client: ID token refused")

// oidcNames are the names, beyond strictjson.JOSENames, whose case
// variants an ID token may not carry: the claims this package reads.
var oidcNames = append([]string{"azp", "sid", "at_hash", "c_hash", "events",
	"name", "given_name", "family_name", "preferred_username", "email", "email_verified", "picture", "locale"},
	strictjson.JOSENames...)

// IDToken is a verified ID token's claims (OpenID Connect Core §2, §5.1).
type IDToken struct {
	Issuer   string
	Subject  string
	Audience []string
	Expiry   time.Time
	IssuedAt time.Time
	// AuthTime is when the user authenticated; zero when absent.
	AuthTime time.Time
	Nonce    string
	ACR      string
	AMR      []string
	// AuthorizedParty is azp, the client the token was issued to.
	AuthorizedParty string
	// SessionID is sid (Back-Channel Logout §2.1).
	SessionID string
	AtHash    string
	// Standard profile claims (§5.1), when the token carries them.
	Name              string
	GivenName         string
	FamilyName        string
	PreferredUsername string
	Email             string
	EmailVerified     bool
	Picture           string
	Locale            string
	// Claims holds every claim as decoded JSON, standard or not.
	Claims map[string]any
	// Raw is the compact JWS as received.
	Raw string
}

// idClaims is the JSON shape of the claims IDToken types.
type idClaims struct {
	Iss               string          `json:"iss"`
	Sub               string          `json:"sub"`
	Aud               json.RawMessage `json:"aud"`
	Exp               *float64        `json:"exp"`
	Iat               *float64        `json:"iat"`
	AuthTime          *float64        `json:"auth_time"`
	Nonce             *string         `json:"nonce"`
	ACR               string          `json:"acr"`
	AMR               []string        `json:"amr"`
	Azp               string          `json:"azp"`
	Sid               string          `json:"sid"`
	AtHash            string          `json:"at_hash"`
	Events            json.RawMessage `json:"events"`
	Name              string          `json:"name"`
	GivenName         string          `json:"given_name"`
	FamilyName        string          `json:"family_name"`
	PreferredUsername string          `json:"preferred_username"`
	Email             string          `json:"email"`
	EmailVerified     bool            `json:"email_verified"`
	Picture           string          `json:"picture"`
	Locale            string          `json:"locale"`
}

type idHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// KeySet returns an issuer's public keys that may have signed a JWS with
// key id kid (all of them when kid is empty). Implementations never
// return private or symmetric keys.
type KeySet interface {
	VerificationKeys(ctx context.Context, kid string) ([]jose.JSONWebKey, error)
}

// IDTokenVerifier checks ID tokens of one issuer for one client (OpenID
// Connect Core §3.1.3.7). It is safe for concurrent use.
type IDTokenVerifier struct {
	issuer   string
	clientID string
	keys     KeySet
	algs     map[string]bool
	leeway   time.Duration
	now      func() time.Time
}

// VerifierOption configures an IDTokenVerifier. Options are sealed.
type VerifierOption interface{ applyVerifier(*IDTokenVerifier) }

type verifierOption func(*IDTokenVerifier)

func (f verifierOption) applyVerifier(v *IDTokenVerifier) { f(v) }

// WithIDTokenAlgs sets the accepted signature algorithms (default
// DefaultIDTokenAlgs). none and HS* are never accepted, whatever is
// listed.
func WithIDTokenAlgs(algs ...string) VerifierOption {
	return verifierOption(func(v *IDTokenVerifier) {
		v.algs = map[string]bool{}
		for _, a := range algs {
			if a != "none" && !strings.HasPrefix(a, "HS") {
				v.algs[a] = true
			}
		}
	})
}

// WithIDTokenLeeway sets the allowed clock difference (default
// DefaultIDTokenLeeway).
func WithIDTokenLeeway(d time.Duration) VerifierOption {
	return verifierOption(func(v *IDTokenVerifier) { v.leeway = max(d, 0) })
}

// WithIDTokenClock sets the verifier's clock (default time.Now).
func WithIDTokenClock(now func() time.Time) VerifierOption {
	return verifierOption(func(v *IDTokenVerifier) { v.now = now })
}

// NewIDTokenVerifier returns a verifier of the ID tokens issuer issues to
// clientID, signed by a key of keys.
func NewIDTokenVerifier(issuer, clientID string, keys KeySet, opts ...VerifierOption) *IDTokenVerifier {
	v := &IDTokenVerifier{issuer: issuer, clientID: clientID, keys: keys, leeway: DefaultIDTokenLeeway, now: time.Now}
	WithIDTokenAlgs(DefaultIDTokenAlgs...).applyVerifier(v)
	for _, o := range opts {
		if o != nil {
			o.applyVerifier(v)
		}
	}
	return v
}

// Expect is what the client knows of the request an ID token answers.
type Expect struct {
	// Nonce sent in the authentication request: the token's nonce must be
	// equal (§3.1.3.7 rule 11). Empty: the token must carry no nonce
	// check (a refreshed ID token, §12.2).
	Nonce string
	// AccessToken issued with the ID token: at_hash, when present, must
	// match it (§3.1.2.1, §3.2.2.9).
	AccessToken string
	// RequireAtHash refuses a token without at_hash (Ward always sends
	// one with an access token).
	RequireAtHash bool
	// MaxAge sent in the request (max_age): auth_time is then required
	// and must be no older (§3.1.3.7 rule 13). Zero: not sent; use
	// MaxAgeZero for max_age=0.
	MaxAge time.Duration
}

// Verify checks rawIDToken and returns its claims. Every refusal wraps
// ErrIDToken.
func (v *IDTokenVerifier) Verify(ctx context.Context, rawIDToken string, want Expect) (*IDToken, error) {
	payload, alg, err := v.verifySignature(ctx, rawIDToken)
	if err != nil {
		return nil, err
	}
	var c idClaims
	var raw map[string]any
	if err := strictjson.Unmarshal(payload, &c); err != nil {
		return nil, refused("claims: %v", err)
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, refused("claims: %v", err)
	}
	t, err := v.checkClaims(&c, alg, want)
	if err != nil {
		return nil, err
	}
	t.Claims, t.Raw = raw, rawIDToken
	return t, nil
}

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrIDToken}, args...)...)
}

// verifySignature checks the header and signature (§3.1.3.7 rules 6-8)
// and returns the payload.
func (v *IDTokenVerifier) verifySignature(ctx context.Context, raw string) ([]byte, string, error) {
	if len(raw) > 64<<10 {
		return nil, "", refused("larger than 64 KiB")
	}
	// RFC 7515 §4, RFC 8259 §4: names matched exactly, none repeated, in
	// header and payload, before go-jose reads them.
	if err := strictjson.CheckCompact(raw, oidcNames); err != nil {
		return nil, "", refused("%v", err)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(raw[:strings.IndexByte(raw, '.')])
	var h idHeader
	if err := strictjson.Unmarshal(hb, &h); err != nil {
		return nil, "", refused("header: %v", err)
	}
	// RFC 8725 §3.1: the algorithm comes from our allow-list.
	if !v.algs[h.Alg] {
		return nil, "", refused("algorithm %q is not accepted", h.Alg)
	}
	// RFC 8725 §3.11: an access token (at+jwt), a logout token or any
	// other explicitly typed JWT is not an ID token.
	if h.Typ != "" && !strings.EqualFold(h.Typ, "JWT") && !strings.EqualFold(h.Typ, "application/jwt") {
		return nil, "", refused("typ %q is not an ID token's", h.Typ)
	}
	if h.Crit != nil {
		return nil, "", refused("critical header parameters are not supported")
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(h.Alg)})
	if err != nil {
		return nil, "", refused("%v", err)
	}
	keys, err := v.keys.VerificationKeys(ctx, h.Kid)
	if err != nil {
		return nil, "", fmt.Errorf("%w: issuer keys: %w", ErrIDToken, err)
	}
	for i := range keys {
		k := &keys[i]
		if k.Algorithm != "" && k.Algorithm != h.Alg {
			continue
		}
		if payload, err := jws.Verify(k); err == nil {
			return payload, h.Alg, nil
		}
	}
	return nil, "", refused("signature does not verify with the issuer's keys (kid %q)", clip(h.Kid))
}

// checkClaims applies §3.1.3.7 rules 2-5 and 9-13 and §3.1.3.8.
func (v *IDTokenVerifier) checkClaims(c *idClaims, alg string, want Expect) (*IDToken, error) {
	if c.Iss != v.issuer {
		return nil, refused("iss %q is not %q", clip(c.Iss), v.issuer)
	}
	if c.Sub == "" || len(c.Sub) > 255 {
		return nil, refused("sub missing or longer than 255 characters (§2)")
	}
	aud, err := audiences(c.Aud)
	if err != nil {
		return nil, err
	}
	if !contains(aud, v.clientID) {
		return nil, refused("aud does not name client %q", v.clientID)
	}
	// §3.1.3.7 rules 4-5: several audiences need an azp, and azp, when
	// present, must name this client.
	if len(aud) > 1 && c.Azp == "" {
		return nil, refused("several audiences and no azp")
	}
	if c.Azp != "" && c.Azp != v.clientID {
		return nil, refused("azp %q is not %q", clip(c.Azp), v.clientID)
	}
	if c.Events != nil {
		return nil, refused("carries events: a logout token, not an ID token")
	}
	t := &IDToken{Issuer: c.Iss, Subject: c.Sub, Audience: aud, ACR: c.ACR, AMR: c.AMR, AuthorizedParty: c.Azp, SessionID: c.Sid, AtHash: c.AtHash,
		Name: c.Name, GivenName: c.GivenName, FamilyName: c.FamilyName, PreferredUsername: c.PreferredUsername,
		Email: c.Email, EmailVerified: c.EmailVerified, Picture: c.Picture, Locale: c.Locale}
	if err := v.checkTimes(c, t, want); err != nil {
		return nil, err
	}
	if err := checkNonce(c.Nonce, want.Nonce); err != nil {
		return nil, err
	}
	if c.Nonce != nil {
		t.Nonce = *c.Nonce
	}
	if err := checkAtHash(c.AtHash, alg, want); err != nil {
		return nil, err
	}
	return t, nil
}

// checkTimes applies rules 9, 10 and 13: exp in the future, iat not in
// the future, auth_time within max_age, each within the leeway.
func (v *IDTokenVerifier) checkTimes(c *idClaims, t *IDToken, want Expect) error {
	now := v.now()
	if c.Exp == nil || c.Iat == nil {
		return refused("exp and iat are required")
	}
	var err error
	if t.Expiry, err = numericDate("exp", *c.Exp); err != nil {
		return err
	}
	if t.IssuedAt, err = numericDate("iat", *c.Iat); err != nil {
		return err
	}
	if !now.Before(t.Expiry.Add(v.leeway)) {
		return refused("expired at %s", t.Expiry.UTC().Format(time.RFC3339))
	}
	if t.IssuedAt.After(now.Add(v.leeway)) {
		return refused("issued in the future (iat %s)", t.IssuedAt.UTC().Format(time.RFC3339))
	}
	if c.AuthTime != nil {
		if t.AuthTime, err = numericDate("auth_time", *c.AuthTime); err != nil {
			return err
		}
	}
	if want.MaxAge > 0 {
		if c.AuthTime == nil {
			return refused("max_age was requested and auth_time is missing")
		}
		if now.Sub(t.AuthTime) > want.MaxAge+v.leeway {
			return refused("auth_time %s is older than max_age %s", t.AuthTime.UTC().Format(time.RFC3339), want.MaxAge)
		}
	}
	return nil
}

// MaxAgeZero is Expect.MaxAge for a request sent with max_age=0 (a fresh
// authentication): auth_time must be within the leeway of now.
const MaxAgeZero = time.Nanosecond

func numericDate(name string, f float64) (time.Time, error) {
	if math.IsNaN(f) || f < 0 || f > 1<<40 {
		return time.Time{}, refused("%s is not a NumericDate", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// checkNonce applies rule 11: the nonce sent must come back, exactly.
func checkNonce(got *string, sent string) error {
	if sent == "" {
		return nil
	}
	if got == nil {
		return refused("nonce missing (one was sent)")
	}
	if subtle.ConstantTimeCompare([]byte(*got), []byte(sent)) != 1 {
		return refused("nonce does not match the one sent")
	}
	return nil
}

// checkAtHash applies §3.1.3.8 and §3.2.2.9: the left half of the hash
// of the access token, base64url, with the hash of the JWS alg.
func checkAtHash(atHash, alg string, want Expect) error {
	if atHash == "" {
		if want.RequireAtHash {
			return refused("at_hash missing")
		}
		return nil
	}
	if want.AccessToken == "" {
		return nil
	}
	h := sha256.New
	switch {
	case strings.HasSuffix(alg, "384"):
		h = sha512.New384
	case strings.HasSuffix(alg, "512"), alg == "EdDSA":
		h = sha512.New
	}
	if subtle.ConstantTimeCompare([]byte(atHash), []byte(AtHash(want.AccessToken, h))) != 1 {
		return refused("at_hash does not match the access token")
	}
	return nil
}

// AtHash returns the at_hash of accessToken for a JWS whose algorithm
// uses the hash h (OpenID Connect Core §3.1.3.6): the base64url of the
// left half of the hash of its ASCII octets.
func AtHash(accessToken string, h func() hash.Hash) string {
	d := h()
	d.Write([]byte(accessToken))
	sum := d.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

func audiences(raw json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil && one != "" {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || len(many) == 0 {
		return nil, refused("aud is missing or not a string or array of strings")
	}
	return many, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
