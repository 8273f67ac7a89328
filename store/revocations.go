package store

import (
	"context"
	"time"
)

// Revocation is one entry of the revocation feed that gateways follow
// (docs/GATEWAY.md, "Revocation feed"): an access token revoked by its jti
// (RFC 7009), or a whole grant (token family) whose access tokens carry
// its id in their grant_id claim.
type Revocation struct {
	// Exactly one of JTI and GrantID is set.
	JTI, GrantID string
	// RevokedAt orders the feed.
	RevokedAt time.Time
	// Expires is the access token's exp for a JTI; zero for a grant (its
	// access tokens live at most config.MaxAccessTokenTTL after it).
	Expires time.Time
}

// RevokedFamilyRetention is how long after its revocation a family stays
// in the store (and so in the revocation feed) even when it has expired:
// the longest access-token lifetime (config.MaxAccessTokenTTL), so that a
// gateway catching up still learns of the revocation while the family's
// access tokens live.
const RevokedFamilyRetention = time.Hour

// RevocationLog lists revocations in the order they were made.
type RevocationLog interface {
	// ListRevocations returns at most limit revocations with RevokedAt at
	// or after since, oldest first: revoked access tokens (until
	// DeleteExpired removes them after their exp) and revoked families
	// (until DeleteExpired removes them, never sooner than
	// RevokedFamilyRetention after their revocation).
	ListRevocations(ctx context.Context, since time.Time, limit int) ([]Revocation, error)
}
