package secevent

import (
	"context"
	"slices"
	"testing"
	"time"
)

type revoked []string

func (r *revoked) RevokeFamily(_ context.Context, id, reason string, _ time.Time) error {
	if reason != RevokeReason {
		panic(reason)
	}
	*r = append(*r, id)
	return nil
}

// Only a leaked token's family is revoked, once; other events, and a leak
// without a family (a foreign issuer's token), revoke nothing.
func TestRevokeFamilyOnlyOnLeak(t *testing.T) {
	var got revoked
	s := RevokeFamily{Store: &got}
	err := s.Write(context.Background(), []Event{
		{Type: TokenLeaked, FamilyID: "fam-1", Reason: "dpop_token_as_bearer"},
		{Type: TokenLeaked, FamilyID: "fam-1", Reason: "jkt_mismatch"},
		{Type: TokenLeaked, Reason: "dpop_token_as_bearer"}, // foreign issuer: no family
		{Type: ProofReplayed, FamilyID: "fam-2", Reason: "replayed"},
		{Type: NonceFailure, FamilyID: "fam-3", Reason: "nonce_invalid"},
		{Type: PolicyDenied, FamilyID: "fam-4"},
		{Type: TokenLeaked, FamilyID: Redacted},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, revoked{"fam-1"}) {
		t.Errorf("revoked %v, want [fam-1]", got)
	}
}
