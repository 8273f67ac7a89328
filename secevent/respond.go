package secevent

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/wardauth/ward/store"
)

// FamilyRevoker revokes a refresh-token family; store.Families is one.
type FamilyRevoker interface {
	RevokeFamily(ctx context.Context, id, reason string, now time.Time) error
}

// RevokeReason is the family's revocation reason a leak response stores.
const RevokeReason = "token_leaked"

// RevokeFamily is the response to TokenLeaked (events.responses.
// token_leaked.revoke_family): it revokes the family (grant) of every
// leaked token event that names one, so the family's refresh token is
// refused at /token and its access tokens by every gateway following the
// revocation feed. The legitimate client signs in again.
//
// It acts only on TokenLeaked events, which the gateway emits only for the
// refusals that prove a leak (resource.Leak): never on a proof that failed
// to verify, a replayed proof, a skewed iat or a nonce round trip. An
// event without a FamilyID (a token of another issuer) is left alone.
type RevokeFamily struct {
	Store  FamilyRevoker
	Clock  func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()
}

var _ Sink = RevokeFamily{}

// Write implements Sink: each leaked family is revoked once per batch; a
// family already gone (store.ErrNotFound) is no error.
func (s RevokeFamily) Write(ctx context.Context, events []Event) error {
	now, logger := time.Now, s.Logger
	if s.Clock != nil {
		now = s.Clock
	}
	if logger == nil {
		logger = slog.Default()
	}
	done := map[string]bool{}
	var errs []error
	for _, e := range events {
		if e.Type != TokenLeaked || e.FamilyID == "" || e.FamilyID == Redacted || done[e.FamilyID] {
			continue
		}
		done[e.FamilyID] = true
		err := s.Store.RevokeFamily(ctx, e.FamilyID, RevokeReason, now())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		logger.Warn("security response: leaked token's family revoked", "family_id", e.FamilyID,
			"client_id", e.ClientID, "sub", e.Subject, "jkt", e.JKT, "reason", e.Reason)
	}
	return errors.Join(errs...)
}
