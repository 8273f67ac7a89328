package dpop

import (
	"fmt"

	"github.com/wardauth/ward/oauth"
)

// Reason is a stable, machine-readable name for why a proof was refused,
// meant for logs and metrics labels. The set only grows.
type Reason string

// Reasons, one per check of RFC 9449 §4.3 (and the replay and nonce rules of
// §11.1 and §8).
const (
	ReasonMissing          Reason = "missing"           // §4.3 (1): no DPoP header
	ReasonMultiple         Reason = "multiple_headers"  // §4.3 (1): more than one DPoP header
	ReasonTooLarge         Reason = "too_large"         // proof longer than the configured limit
	ReasonMalformed        Reason = "malformed"         // §4.3 (2): not a compact JWS
	ReasonBadHeader        Reason = "bad_header"        // header not a JSON object, crit present, ...
	ReasonMissingClaim     Reason = "missing_claim"     // §4.3 (3): a required claim is absent
	ReasonBadClaim         Reason = "bad_claim"         // §4.3 (3): a claim has the wrong type or value
	ReasonBadType          Reason = "bad_typ"           // §4.3 (4): typ is not dpop+jwt
	ReasonBadAlgorithm     Reason = "bad_alg"           // §4.3 (5): alg not allowed
	ReasonBadKey           Reason = "bad_key"           // jwk missing, unusable, or not matching alg
	ReasonPrivateKey       Reason = "private_key"       // §4.3 (7): jwk carries private parts
	ReasonBadSignature     Reason = "bad_signature"     // §4.3 (6)
	ReasonHTMMismatch      Reason = "htm_mismatch"      // §4.3 (8)
	ReasonHTUMismatch      Reason = "htu_mismatch"      // §4.3 (9)
	ReasonNonceMissing     Reason = "nonce_missing"     // §4.3 (10), §8
	ReasonNonceInvalid     Reason = "nonce_invalid"     // §4.3 (10), §8: unknown, stale or from another server
	ReasonIATTooOld        Reason = "iat_too_old"       // §4.3 (11)
	ReasonIATInFuture      Reason = "iat_in_future"     // §4.3 (11)
	ReasonATHMissing       Reason = "ath_missing"       // §4.3 (12)
	ReasonATHMismatch      Reason = "ath_mismatch"      // §4.3 (12)
	ReasonKeyMismatch      Reason = "jkt_mismatch"      // §4.3 (12): key is not the one the token is bound to
	ReasonReplayed         Reason = "replayed"          // §11.1: (jkt, jti) seen before
	ReasonReplayStoreFull  Reason = "replay_store_full" // the replay store refused to grow
	ReasonReplayStoreError Reason = "replay_store_error"
)

// Error codes for the wire (RFC 9449 §7.1, §8, §12.2).
const (
	CodeInvalidProof = oauth.InvalidDPoPProof
	CodeUseNonce     = oauth.UseDPoPNonce
)

// Error is a refused proof. It carries the stable Reason, a description
// meant for the developer of the client (it never contains the proof or the
// access token), and for nonce failures a fresh nonce to send back in the
// DPoP-Nonce header.
type Error struct {
	Reason      Reason
	Description string
	// Nonce is a fresh server nonce when Code() is use_dpop_nonce.
	Nonce string
	err   error
}

func (e *Error) Error() string {
	if e.Description == "" {
		return "dpop: " + string(e.Reason)
	}
	return "dpop: " + string(e.Reason) + ": " + e.Description
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.err }

// Is reports whether target is an *Error with the same Reason, so that
// errors.Is(err, dpop.ErrReplayed) works whatever the description.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// Code is the OAuth error code for the wire: use_dpop_nonce when the client
// must retry with the nonce in e.Nonce, invalid_dpop_proof otherwise.
func (e *Error) Code() string {
	if e.Reason == ReasonNonceMissing || e.Reason == ReasonNonceInvalid {
		return CodeUseNonce
	}
	return CodeInvalidProof
}

// Temporary reports whether the failure was the server's (the replay store
// was full or unreachable), not the client's: answer 503, not 400/401.
func (e *Error) Temporary() bool {
	return e.Reason == ReasonReplayStoreFull || e.Reason == ReasonReplayStoreError
}

func newError(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Description: fmt.Sprintf(format, args...)}
}

func wrapError(r Reason, err error, format string, args ...any) *Error {
	return &Error{Reason: r, Description: fmt.Sprintf(format, args...), err: err}
}

// Sentinels for errors.Is, one per Reason.
var (
	ErrMissing          = &Error{Reason: ReasonMissing}
	ErrMultiple         = &Error{Reason: ReasonMultiple}
	ErrTooLarge         = &Error{Reason: ReasonTooLarge}
	ErrMalformed        = &Error{Reason: ReasonMalformed}
	ErrBadHeader        = &Error{Reason: ReasonBadHeader}
	ErrMissingClaim     = &Error{Reason: ReasonMissingClaim}
	ErrBadClaim         = &Error{Reason: ReasonBadClaim}
	ErrBadType          = &Error{Reason: ReasonBadType}
	ErrBadAlgorithm     = &Error{Reason: ReasonBadAlgorithm}
	ErrBadKey           = &Error{Reason: ReasonBadKey}
	ErrPrivateKey       = &Error{Reason: ReasonPrivateKey}
	ErrBadSignature     = &Error{Reason: ReasonBadSignature}
	ErrHTMMismatch      = &Error{Reason: ReasonHTMMismatch}
	ErrHTUMismatch      = &Error{Reason: ReasonHTUMismatch}
	ErrNonceMissing     = &Error{Reason: ReasonNonceMissing}
	ErrNonceInvalid     = &Error{Reason: ReasonNonceInvalid}
	ErrIATTooOld        = &Error{Reason: ReasonIATTooOld}
	ErrIATInFuture      = &Error{Reason: ReasonIATInFuture}
	ErrATHMissing       = &Error{Reason: ReasonATHMissing}
	ErrATHMismatch      = &Error{Reason: ReasonATHMismatch}
	ErrKeyMismatch      = &Error{Reason: ReasonKeyMismatch}
	ErrReplayed         = &Error{Reason: ReasonReplayed}
	ErrReplayStoreFull  = &Error{Reason: ReasonReplayStoreFull}
	ErrReplayStoreError = &Error{Reason: ReasonReplayStoreError}
)
