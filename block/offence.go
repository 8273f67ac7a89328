package block

import (
	"fmt"
	"net/http"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/resource"
)

// counted are the refusals that strike: credentials a client's DPoP or
// OAuth library never makes by itself, only someone forging or mangling
// them by hand (docs/EVENTS.md, "Blocking", has the table and the
// reasons for each refusal left out).
var counted = map[string]bool{
	// The proof's or the token's signature does not verify.
	string(dpop.ReasonBadSignature): true, // also resource.ReasonBadSignature
	// A proof that is no compact JWS, whose header is not JSON, names
	// another typ, carries no usable jwk or a private key.
	string(dpop.ReasonMalformed):  true,
	string(dpop.ReasonBadHeader):  true,
	string(dpop.ReasonBadType):    true,
	string(dpop.ReasonBadKey):     true,
	string(dpop.ReasonPrivateKey): true,
	// A token that is no JWT, names another typ, an algorithm off the
	// allow-list (none, HS256 with the public key) or a key by URL.
	resource.ReasonMalformedToken:  true,
	resource.ReasonBadTokenType:    true,
	resource.ReasonBadTokenAlg:     true,
	resource.ReasonForbiddenHeader: true,
	// A token presented with another key or as Bearer: the leak
	// response revokes the family at the first; repeated, someone is
	// trying stolen tokens.
	string(dpop.ReasonKeyMismatch): true,
	resource.ReasonDPoPAsBearer:    true,
}

// Counts reports whether a refusal of reason (the rejection metric's
// label) is an offence. Never: a missing or stale nonce (the RFC 9449 §8
// round trip), a skewed clock (iat_too_old, iat_in_future, not_yet_valid,
// expired), a replayed proof (a retry after a network error sends the
// same proof again; and a copied proof is refused anyway), htm, htu or
// ath mismatches (a proxy rewriting the URL, a proof made for the token
// just refreshed), an unknown kid (key rotation), a wrong issuer or
// audience, a revoked token, certificate failures (renewals), rate
// limits, and the server's own failures.
func Counts(reason string) bool { return counted[reason] }

// ErrorCode is the error of a blocked request's JSON body and its
// X-Ward-Error header.
const ErrorCode = "blocked"

// Reason is the rejection metric's label of a blocked request.
const Reason = "blocked"

// Header carries ErrorCode on a blocked request's answer, as the
// gateway's X-Ward-Error marks its other own answers.
const Header = "X-Ward-Error"

// Error is the refusal of a request blocked by blk: 429 (RFC 6585 §4:
// the client sent too much, and may retry after Retry-After), the JSON
// error "blocked", and Retry-After the seconds left. It names neither
// the kind nor the value: the client knows its address and key.
func (blk Block) Error(now time.Time) *oauth.Error {
	secs := blk.RetryAfter(now)
	return &oauth.Error{Code: ErrorCode, Status: http.StatusTooManyRequests, Reason: Reason, RetryAfter: secs,
		Description: fmt.Sprintf("too many invalid requests; blocked for %d seconds", secs)}
}
