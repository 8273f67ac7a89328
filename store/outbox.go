package store

import (
	"context"
	"time"
)

// LogoutDelivery is a back-channel logout notification waiting to be
// delivered (OpenID Connect Back-Channel Logout 1.0 §2.5): one client to
// tell that the user's session ended. The logout token itself is not
// stored: the sender signs a fresh one for each attempt, so no bearer
// credential sits in the outbox and a retried token is never stale.
type LogoutDelivery struct {
	// ID is random, unique.
	ID       string
	ClientID string
	// Subject is the user's subject as Ward stores it (the sender maps
	// it to the client's sub, pairwise or public).
	Subject string
	// SID is the ended session's sid (Session.SID); empty when unknown.
	SID string
	// Attempts counts the claims of this delivery so far: a claim counts
	// as an attempt even when its claimant dies before sending, so the
	// bound on attempts holds across crashes.
	Attempts int
	// NextAt is when the delivery is next due; a claim moves it to the end
	// of the claim's lease.
	NextAt time.Time
	// Claim is the token of the current claim (ClaimLogouts); only its
	// holder may retry or finish the delivery.
	Claim     string
	CreatedAt time.Time
	// ExpiresAt: DeleteExpired drops the delivery after this time,
	// whatever its attempts.
	ExpiresAt time.Time
}

// LogoutOutbox is the durable queue of back-channel logout deliveries: a
// logout enqueues in the store before the session is deleted, so a crash
// loses none, and any instance may deliver them. Claims are leases: of
// several instances claiming at once, each delivery goes to one, and a
// delivery whose claimant died is due again when the lease ends.
type LogoutOutbox interface {
	// EnqueueLogouts stores deliveries in one transaction.
	EnqueueLogouts(ctx context.Context, ds []*LogoutDelivery) error
	// ClaimLogouts claims at most n deliveries due at now (NextAt <= now,
	// oldest due first): it sets their Claim to claim, adds one to their
	// Attempts and moves their NextAt to now+lease, atomically, and
	// returns them so updated.
	ClaimLogouts(ctx context.Context, claim string, now time.Time, lease time.Duration, n int) ([]*LogoutDelivery, error)
	// RetryLogout makes a claimed delivery due again at next and releases
	// the claim; ErrNotFound when the delivery is gone or claim no longer
	// holds it (its lease ended and another claimant took it).
	RetryLogout(ctx context.Context, id, claim string, next time.Time) error
	// FinishLogout deletes a claimed delivery (delivered, or given up);
	// ErrNotFound as for RetryLogout.
	FinishLogout(ctx context.Context, id, claim string) error
}
