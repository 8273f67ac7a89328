package secevent

import (
	"crypto/ecdsa"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/internal/strictjson"
)

// SETReceiver verifies the SETs pushed to the authorization server
// (RFC 8935 §2.3): each from a configured sender, signed ES256 by one of
// its keys, for this audience, recent, carrying one Ward event of a type
// a gateway emits. It does not remember jti values: the caller records
// each (Received.Issuer, Received.ID) until Received.Expires and refuses
// a repeat.
type SETReceiver struct {
	// Audience is the receiver's issuer, the SET's required aud.
	Audience string
	// Senders are the public keys of each accepted sender, by iss.
	Senders map[string][]*ecdsa.PublicKey
	// MaxAge is how old a SET's iat may be; default DefaultSETMaxAge.
	MaxAge time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Received is a verified SET.
type Received struct {
	Event   Event
	Issuer  string    // the sender (iss)
	ID      string    // jti
	Expires time.Time // until when the jti must be remembered
	// TokenIssuer is the iss of the token Event.FamilyID names.
	TokenIssuer string
}

// Verify checks set and returns its event, or a *SETError naming the
// RFC 8935 §2.4 code.
func (r *SETReceiver) Verify(set []byte) (*Received, error) {
	if len(set) > MaxSETBytes {
		return nil, setErr(ErrInvalidRequest, "the SET exceeds %d bytes", MaxSETBytes)
	}
	compact := strings.TrimSpace(string(set))
	if err := strictjson.CheckCompact(compact, setNames); err != nil {
		return nil, setErr(ErrInvalidRequest, "the request body is not a compact JWS with strict JSON")
	}
	jws, err := parseSET(compact)
	if err != nil {
		return nil, err
	}
	var unverified setClaims
	if err := strictjson.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified); err != nil {
		return nil, setErr(ErrInvalidRequest, "the SET's claims are not a JSON object of the expected types")
	}
	keys, ok := r.Senders[unverified.Issuer]
	if !ok || unverified.Issuer == "" {
		return nil, setErr(ErrInvalidIssuer, "the SET's iss is not a configured sender")
	}
	payload, err := verifyWithAny(jws, keys)
	if err != nil {
		return nil, err
	}
	var c setClaims
	if err := strictjson.Unmarshal(payload, &c); err != nil {
		return nil, setErr(ErrInvalidRequest, "the SET's claims are not a JSON object of the expected types")
	}
	return r.check(&c)
}

// parseSET parses a compact JWS signed with an allowed algorithm
// (RFC 8725 §3.1: none, HMAC and every other algorithm refused) whose
// typ is secevent+jwt (RFC 8417 §2.3).
func parseSET(compact string) (*jose.JSONWebSignature, error) {
	jws, err := jose.ParseSignedCompact(compact, SETAlgs)
	if err != nil {
		if strings.Contains(err.Error(), "unexpected signature algorithm") {
			return nil, setErr(ErrInvalidKey, "the SET must be signed ES256")
		}
		return nil, setErr(ErrInvalidRequest, "the request body is not a signed SET")
	}
	if len(jws.Signatures) != 1 {
		return nil, setErr(ErrInvalidRequest, "the SET must carry one signature")
	}
	h := jws.Signatures[0].Header
	if h.JSONWebKey != nil {
		return nil, setErr(ErrInvalidKey, "the SET must not carry its own key")
	}
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	typ = strings.TrimPrefix(strings.ToLower(typ), "application/")
	if typ != SETType {
		return nil, setErr(ErrInvalidRequest, "the SET's typ must be %s", SETType)
	}
	return jws, nil
}

// verifyWithAny returns the payload of jws verified by one of keys.
func verifyWithAny(jws *jose.JSONWebSignature, keys []*ecdsa.PublicKey) ([]byte, error) {
	for _, k := range keys {
		if p, err := jws.Verify(k); err == nil {
			return p, nil
		}
	}
	return nil, setErr(ErrAuthentication, "the SET's signature does not verify with the sender's keys")
}

// check checks the verified claims (RFC 8417 §2.2) and decodes the event.
func (r *SETReceiver) check(c *setClaims) (*Received, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	maxAge := r.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultSETMaxAge
	}
	var aud string
	if strictjson.Unmarshal(c.Audience, &aud) != nil || aud != r.Audience || aud == "" {
		return nil, setErr(ErrInvalidAudience, "the SET's aud must be this server's issuer")
	}
	t, iat := now(), time.Unix(c.IssuedAt, 0)
	switch {
	case c.IssuedAt == 0 || iat.Before(t.Add(-maxAge)):
		return nil, setErr(ErrInvalidRequest, "the SET's iat is missing or older than %s", maxAge)
	case iat.After(t.Add(setSkew)):
		return nil, setErr(ErrInvalidRequest, "the SET's iat is in the future")
	case c.Expiry != nil && !time.Unix(*c.Expiry, 0).After(t):
		return nil, setErr(ErrInvalidRequest, "the SET has expired")
	case c.ID == "" || len(c.ID) > 128:
		return nil, setErr(ErrInvalidRequest, "the SET's jti is missing or too long")
	}
	ev, tokenIss, err := decodeEvent(c)
	if err != nil {
		return nil, err
	}
	return &Received{Event: ev, Issuer: c.Issuer, ID: c.ID, Expires: iat.Add(maxAge + setSkew), TokenIssuer: tokenIss}, nil
}

// decodeEvent reads the one Ward event of the events claim.
func decodeEvent(c *setClaims) (Event, string, error) {
	if len(c.Events) != 1 {
		return Event{}, "", setErr(ErrInvalidRequest, "the SET must carry exactly one event")
	}
	var uri string
	var raw json.RawMessage
	for k, v := range c.Events {
		uri, raw = k, v
	}
	typ, ok := strings.CutPrefix(uri, EventURIPrefix)
	if !ok || !slices.Contains(Types, Type(typ)) {
		return Event{}, "", setErr(ErrInvalidRequest, "the SET's event type is not a Ward event")
	}
	if !slices.Contains(GatewayTypes, Type(typ)) {
		return Event{}, "", setErr(ErrAccessDenied, "a gateway may not send %s events", typ)
	}
	var p setPayload
	if err := strictjson.Unmarshal(raw, &p); err != nil {
		return Event{}, "", setErr(ErrInvalidRequest, "the event's payload is not a JSON object of the expected types")
	}
	toe := time.Unix(c.TOE, 0)
	if c.TOE == 0 || c.TOE > c.IssuedAt {
		toe = time.Unix(c.IssuedAt, 0) // no event happens after its SET
	}
	ev := Event{Time: toe, Type: Type(typ), Severity: Type(typ).Severity(), Instance: p.Instance,
		ClientID: p.ClientID, Subject: p.Subject, JKT: p.JKT, FamilyID: p.FamilyID,
		ClientAddr: p.ClientAddr, Route: p.Route, Reason: p.Reason}
	return ev, p.TokenIssuer, nil
}
