package secevent

import (
	"strings"
	"time"
)

// Type names what happened. The set only grows; the values are stored and
// used as metric labels.
type Type string

// The event types (issue 20, "Security events").
const (
	TokenLeaked     Type = "token_leaked"     // a sender-constrained token presented as Bearer or with another key
	RefreshReplayed Type = "refresh_replayed" // a rotated refresh token presented again (family revoked)
	CodeReplayed    Type = "code_replayed"    // an authorization code redeemed twice (RFC 9700 §4.5)
	ProofReplayed   Type = "proof_replayed"   // a DPoP proof's (jkt, jti) seen before (RFC 9449 §11.1)
	NonceFailure    Type = "nonce_failure"    // a DPoP proof without a valid server nonce (RFC 9449 §8)
	LoginFailed     Type = "login_failed"     // a wrong username or password
	AccountLocked   Type = "account_locked"   // failed logins backed off
	ConsentGranted  Type = "consent_granted"
	ConsentRevoked  Type = "consent_revoked"
	ClientChanged   Type = "client_changed"
	UserChanged     Type = "user_changed"
	KeyChanged      Type = "key_changed"
	RateLimited     Type = "rate_limited"  // a rate limit refused a request
	PolicyDenied    Type = "policy_denied" // a gateway route's policy refused a verified caller
	CertFailed      Type = "mtls_cert_failed"
	AddressBlocked  Type = "address_blocked" // repeated invalid credentials from one address (package block)
	KeyBlocked      Type = "key_blocked"     // repeated invalid proofs for one DPoP key (package block)
	BlockLifted     Type = "block_lifted"    // an admin lifted a block
)

// Types lists every Type, in the order above.
var Types = []Type{TokenLeaked, RefreshReplayed, CodeReplayed, ProofReplayed, NonceFailure,
	LoginFailed, AccountLocked, ConsentGranted, ConsentRevoked, ClientChanged, UserChanged,
	KeyChanged, RateLimited, PolicyDenied, CertFailed, AddressBlocked, KeyBlocked, BlockLifted}

// Severity grades an event for people and alerts.
type Severity string

// Severities, lowest first.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Severity is the default severity of events of type t.
func (t Type) Severity() Severity {
	switch t {
	case TokenLeaked, RefreshReplayed, CodeReplayed:
		return Critical
	case ProofReplayed, LoginFailed, AccountLocked, RateLimited, PolicyDenied, CertFailed, AddressBlocked, KeyBlocked:
		return Warning
	}
	return Info
}

// Event is one security event. No field ever holds a token, a proof, a
// code, a password or a secret: only identifiers safe to log.
type Event struct {
	Time     time.Time
	Type     Type
	Severity Severity // default Type.Severity()
	Instance string   // the Ward process that saw it (host name by default)
	ClientID string   // the OAuth client
	Subject  string   // the end user (sub)
	JKT      string   // the DPoP key's RFC 7638 thumbprint
	FamilyID string   // the refresh-token family (grant_id)
	// ClientAddr is the client IP derived behind trusted proxies.
	ClientAddr string
	Route      string // the gateway route's name
	Reason     string // the refusal reason (metric label vocabulary) or a short text
	// Actor is the operator (the subject of an administrator) whose
	// action the event records (the admin console's changes); empty for
	// what Ward saw happen.
	Actor string
}

// Redacted replaces a field Sanitize strips.
const Redacted = "[redacted]"

// Sanitize strips from e every field that looks like a token: a JWT (two
// or more dots between base64url runs, the first starting "eyJ") in any
// field; an opaque token (a base64url run of 32 characters or more) in
// the free-text fields (Instance, ClientAddr, Route, Reason), not in the
// identifiers, which may be long random strings (pairwise subjects, UUIDs);
// and in JKT anything but an RFC 7638 SHA-256 thumbprint (43 base64url
// characters). It returns how many fields it stripped.
func (e *Event) Sanitize() int {
	n := 0
	for _, f := range []*string{&e.ClientID, &e.Subject, &e.FamilyID, &e.Actor} {
		if looksLikeJWT(*f) {
			*f, n = Redacted, n+1
		}
	}
	for _, f := range []*string{&e.Instance, &e.ClientAddr, &e.Route, &e.Reason} {
		if looksLikeJWT(*f) || longRun(*f) >= minOpaqueToken {
			*f, n = Redacted, n+1
		}
	}
	if e.JKT != "" && (len(e.JKT) != 43 || longRun(e.JKT) != 43) {
		e.JKT, n = Redacted, n+1
	}
	return n
}

// minOpaqueToken is the shortest base64url run taken for a token: 24
// random bytes. Ward's family ids are 22 characters (16 bytes), its
// refresh tokens, codes and session ids 43.
const minOpaqueToken = 32

// looksLikeJWT reports whether s contains a compact JWS or JWE: "eyJ"
// (a base64url JSON object) followed by a run holding at least two dots.
func looksLikeJWT(s string) bool {
	for {
		i := strings.Index(s, "eyJ")
		if i < 0 {
			return false
		}
		s = s[i:]
		dots, j := 0, 0
		for ; j < len(s) && (b64url(s[j]) || s[j] == '.'); j++ {
			if s[j] == '.' {
				dots++
			}
		}
		if dots >= 2 {
			return true
		}
		s = s[3:]
	}
}

// longRun is the length of the longest base64url run in s.
func longRun(s string) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if b64url(s[i]) {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

func b64url(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
