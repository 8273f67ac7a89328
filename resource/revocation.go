package resource

import (
	"net/http"
	"time"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/revocation"
)

// Reasons of the revocation check.
const (
	// ReasonRevoked: the token's jti or grant is in the revocation feed.
	ReasonRevoked Reason = "revoked"
	// ReasonRevocationsStale: the feed has not synced within its bound
	// and the resource refuses rather than risk a revoked token.
	ReasonRevocationsStale Reason = "revocations_stale"
)

// RevocationList answers whether a token was revoked: *revocation.Set,
// fed from the issuer's revocation feed.
type RevocationList interface {
	Check(jti, grantID string, issuedAt time.Time) revocation.Status
}

var _ RevocationList = (*revocation.Set)(nil)

// checkRevoked refuses a token the revocation list names, whether it
// was just verified or came from the token cache.
func (rs *Resource) checkRevoked(v *verified) *oauth.Error {
	if rs.cfg.Revocations == nil || rs.cfg.RevocationsIssuer != "" && v.Issuer != rs.cfg.RevocationsIssuer {
		return nil
	}
	switch rs.cfg.Revocations.Check(v.TokenID, v.grantID, v.IssuedAt) {
	case revocation.Revoked:
		return invalidToken(ReasonRevoked, "the access token has been revoked", v.JKT, nil)
	case revocation.Stale:
		e := fail(oauth.TemporarilyUnavailable, http.StatusServiceUnavailable, ReasonRevocationsStale,
			"revocations cannot be checked right now; retry later", v.JKT, nil)
		e.RetryAfter = 5
		return e
	}
	return nil
}
