package dpop

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wardauth/ward/oauth"
)

// TestProtocolError: the one mapping of a refused proof to the wire. The
// caller's status for the client's mistakes (400 at the authorization
// server, 401 at a resource server); 503 with Retry-After for the server's
// own failure whatever the caller; 500 for an error that is not *Error.
func TestProtocolError(t *testing.T) {
	cause := errors.New("dial tcp: connection refused")
	for _, c := range []struct {
		name       string
		err        error
		status     int
		wantCode   string
		wantStatus int
		wantRetry  int
		wantNonce  string
		wantReason string
	}{
		{"refused proof at the token endpoint", fmt.Errorf("verify: %w", newError(ReasonHTUMismatch, "htu")), 400, oauth.InvalidDPoPProof, 400, 0, "", "htu_mismatch"},
		{"refused proof at a resource", newError(ReasonReplayed, "seen"), 401, oauth.InvalidDPoPProof, 401, 0, "", "replayed"},
		{"nonce", &Error{Reason: ReasonNonceMissing, Nonce: "n1"}, 401, oauth.UseDPoPNonce, 401, 0, "n1", "nonce_missing"},
		{"replay store unreachable at the token endpoint", wrapError(ReasonReplayStoreError, cause, "down"), 400, oauth.TemporarilyUnavailable, 503, RetryAfter, "", "replay_store_error"},
		{"replay store full at a resource", wrapError(ReasonReplayStoreFull, ErrStoreFull, "full"), 401, oauth.TemporarilyUnavailable, 503, RetryAfter, "", "replay_store_full"},
		{"not a proof error", cause, 401, oauth.ServerError, 500, 0, "", "internal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := ProtocolError(c.err, c.status)
			if e.Code != c.wantCode || e.Status != c.wantStatus || e.RetryAfter != c.wantRetry || e.DPoPNonce != c.wantNonce || e.Reason != c.wantReason {
				t.Fatalf("got %q %d Retry-After %d nonce %q reason %q; want %q %d %d %q %q",
					e.Code, e.Status, e.RetryAfter, e.DPoPNonce, e.Reason, c.wantCode, c.wantStatus, c.wantRetry, c.wantNonce, c.wantReason)
			}
			if !errors.Is(e, c.err) {
				t.Errorf("the cause is not kept: %v", e.Err)
			}
		})
	}
}
