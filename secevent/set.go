package secevent

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/internal/strictjson"
)

// Security Event Tokens (RFC 8417) carry events from a gateway-only Ward
// process to the authorization server (push.go, RFC 8935).
const (
	// SETMediaType is the Content-Type of a pushed SET (RFC 8417 §7.2,
	// RFC 8935 §2).
	SETMediaType = "application/secevent+jwt"
	// SETType is the typ header of a SET (RFC 8417 §2.3).
	SETType = "secevent+jwt"
	// EventURIPrefix, followed by a Type, names an event in a SET's
	// events claim (RFC 8417 §2.2: a URI).
	EventURIPrefix = "urn:wardauth:secevent:"
	// MaxSETBytes bounds a pushed SET.
	MaxSETBytes = 8 << 10
	// DefaultSETMaxAge is how old (iat) a SET may be when it arrives.
	DefaultSETMaxAge = 5 * time.Minute
	// setSkew is how far in the future a SET's iat may be.
	setSkew = 30 * time.Second
)

// SETAlgs is the allow-list of SET signature algorithms (RFC 8725 §3.1):
// the sender signs with a P-256 key.
var SETAlgs = []jose.SignatureAlgorithm{jose.ES256}

// GatewayTypes are the event types a gateway emits, the only ones a
// receiver accepts from one (RFC 8935 §2.4 access_denied otherwise).
var GatewayTypes = []Type{TokenLeaked, ProofReplayed, NonceFailure, PolicyDenied, CertFailed, RateLimited}

// setNames are the names a SET's header and claims are checked against
// for case variants (JOSE JSON is case-sensitive).
var setNames = append(append([]string(nil), strictjson.JOSENames...), "events", "toe", "txn")

// setClaims are a SET's claims (RFC 8417 §2.2). aud is one string: the
// receiver's issuer.
type setClaims struct {
	Issuer   string                     `json:"iss"`
	IssuedAt int64                      `json:"iat"`
	ID       string                     `json:"jti"`
	Audience json.RawMessage            `json:"aud"`
	Expiry   *int64                     `json:"exp,omitempty"`
	TOE      int64                      `json:"toe,omitempty"`
	Events   map[string]json.RawMessage `json:"events"`
}

// setPayload is a Ward event's payload in the events claim.
type setPayload struct {
	Severity   string `json:"severity,omitempty"`
	Instance   string `json:"instance,omitempty"`
	ClientID   string `json:"client_id,omitempty"`
	Subject    string `json:"sub,omitempty"`
	JKT        string `json:"jkt,omitempty"`
	FamilyID   string `json:"family_id,omitempty"`
	ClientAddr string `json:"ip,omitempty"`
	Route      string `json:"route,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// TokenIssuer is the iss of the token FamilyID came from: the
	// receiver revokes only its own families.
	TokenIssuer string `json:"token_iss,omitempty"`
}

// SETSigner makes the SETs a gateway pushes, signed ES256 with its own
// key.
type SETSigner struct {
	signer   jose.Signer
	issuer   string
	audience string
}

// NewSETSigner returns a signer of SETs from issuer (the gateway's name)
// to audience (the authorization server's issuer). key must be P-256.
func NewSETSigner(key *ecdsa.PrivateKey, issuer, audience string) (*SETSigner, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: a SET key must be P-256", ErrSET)
	}
	kid, err := KeyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType(SETType).WithHeader(jose.HeaderKey("kid"), kid))
	if err != nil {
		return nil, err
	}
	return &SETSigner{signer: s, issuer: issuer, audience: audience}, nil
}

// KeyID is the RFC 7638 thumbprint of pub, the kid of the SETs it
// verifies.
func KeyID(pub *ecdsa.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// Sign returns ev as a compact SET issued now with a fresh jti.
// tokenIssuer is the iss of the token ev.FamilyID names ("" when none).
func (s *SETSigner) Sign(ev Event, tokenIssuer string, now time.Time) (string, error) {
	p := setPayload{Severity: string(ev.Severity), Instance: ev.Instance, ClientID: ev.ClientID,
		Subject: ev.Subject, JKT: ev.JKT, FamilyID: ev.FamilyID, ClientAddr: ev.ClientAddr,
		Route: ev.Route, Reason: ev.Reason}
	if ev.FamilyID != "" {
		p.TokenIssuer = tokenIssuer
	}
	pb, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	aud, _ := json.Marshal(s.audience)
	c := setClaims{Issuer: s.issuer, IssuedAt: now.Unix(), ID: base64.RawURLEncoding.EncodeToString(jti),
		Audience: aud, TOE: ev.Time.Unix(), Events: map[string]json.RawMessage{EventURIPrefix + string(ev.Type): pb}}
	cb, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := s.signer.Sign(cb)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// The RFC 8935 §2.4 error codes (IANA "Security Event Token Error Codes").
const (
	ErrInvalidRequest  = "invalid_request"
	ErrInvalidKey      = "invalid_key"
	ErrInvalidIssuer   = "invalid_issuer"
	ErrInvalidAudience = "invalid_audience"
	ErrAuthentication  = "authentication_failed"
	ErrAccessDenied    = "access_denied"
)

// ErrSET is wrapped by every SETError and by NewSETSigner's errors.
var ErrSET = errors.New("secevent: SET refused")

// SETError is why a receiver refused a SET: an RFC 8935 §2.4 error code
// and a description safe to send back (it names no key and no claim
// value).
type SETError struct {
	Code        string // an Err* constant
	Description string
}

func (e *SETError) Error() string { return "secevent: SET refused: " + e.Code + ": " + e.Description }

// Unwrap makes every SETError an ErrSET.
func (e *SETError) Unwrap() error { return ErrSET }

func setErr(code, format string, args ...any) *SETError {
	return &SETError{Code: code, Description: fmt.Sprintf(format, args...)}
}

// CheckSETMediaType reports whether ct (a Content-Type header) is
// application/secevent+jwt (RFC 8935 §2).
func CheckSETMediaType(ct string) error {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != SETMediaType {
		return setErr(ErrInvalidRequest, "the Content-Type must be %s", SETMediaType)
	}
	return nil
}
