package dpop

import (
	"errors"
	"net/http"

	"github.com/wardauth/ward/oauth"
)

// RetryAfter is the Retry-After, in seconds, that ProtocolError puts on a
// 503 answered because the server could not check a proof (its replay
// store full or unreachable).
const RetryAfter = 1

// ProtocolError maps err, as Verify and VerifyHTTP return it, to the
// protocol error a server answers; package oauth renders it. It is the
// one mapping of Ward's authorization server and resource middleware:
//
//   - a refused proof: Code() — invalid_dpop_proof, or use_dpop_nonce with
//     the fresh nonce in DPoPNonce (RFC 9449 §8) — with status, which the
//     caller names: 400 at the authorization server (RFC 9449 §5, RFC 6749
//     §5.2), 401 at a resource server (RFC 9449 §7.1);
//   - the server's own failure (Temporary: the replay store full or
//     unreachable): 503 temporarily_unavailable with Retry-After, so that a
//     client retries instead of treating its proof as wrong;
//   - any other error: 500 server_error.
//
// Reason is the Error's Reason ("internal" for any other error); Err keeps
// err for the log. The description never holds the proof or a token.
func ProtocolError(err error, status int) *oauth.Error {
	var de *Error
	if !errors.As(err, &de) {
		return &oauth.Error{Code: oauth.ServerError, Status: http.StatusInternalServerError, Reason: "internal",
			Description: "cannot check the DPoP proof", Err: err}
	}
	if de.Temporary() {
		return &oauth.Error{Code: oauth.TemporarilyUnavailable, Status: http.StatusServiceUnavailable, Reason: string(de.Reason),
			Description: "cannot check DPoP proofs right now; retry shortly", RetryAfter: RetryAfter, Err: err}
	}
	return &oauth.Error{Code: de.Code(), Status: status, Reason: string(de.Reason), Description: de.Description,
		DPoPNonce: de.Nonce, Err: err}
}
