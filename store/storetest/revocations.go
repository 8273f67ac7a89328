package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
)

// testRevocations checks the revocation feed: access tokens revoked by
// /revoke and families revoked by a reuse or a logout, oldest first, from
// a point in time on, in pages.
func testRevocations(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	list := func(since time.Time, limit int) []store.Revocation {
		t.Helper()
		got, err := s.ListRevocations(ctx, since, limit)
		mustOK(t, err)
		return got
	}
	if got := list(time.Time{}, 10); len(got) != 0 {
		t.Fatalf("empty store lists %+v", got)
	}
	famA, rtA := family("fam-a", t0.Add(24*time.Hour))
	mustOK(t, s.CreateFamily(ctx, famA, rtA))
	famB, rtB := family("fam-b", t0.Add(24*time.Hour))
	mustOK(t, s.CreateFamily(ctx, famB, rtB))
	mustOK(t, s.RevokeAccessToken(ctx, "jti-1", at(100), at(1)))
	mustOK(t, s.RevokeFamily(ctx, "fam-a", "reuse", at(2)))
	mustOK(t, s.RevokeAccessToken(ctx, "jti-3", at(100), at(3)))
	// A reused refresh token revokes its family inside the store.
	_, err := s.RotateRefreshToken(ctx, rtB.Hash, refresh("fam-b-2", t0.Add(time.Hour)), at(4))
	mustOK(t, err)
	_, err = s.RotateRefreshToken(ctx, rtB.Hash, refresh("fam-b-3", t0.Add(time.Hour)), at(5))
	if !errors.Is(err, store.ErrAlreadyUsed) {
		t.Fatalf("reuse: %v, want ErrAlreadyUsed", err)
	}
	mustOK(t, s.RevokeAccessToken(ctx, "jti-1", at(200), at(9))) // again: keeps its first time

	got := list(time.Time{}, 10)
	want := []store.Revocation{
		{JTI: "jti-1", RevokedAt: at(1), Expires: at(200)},
		{GrantID: "fam-a", RevokedAt: at(2)},
		{JTI: "jti-3", RevokedAt: at(3), Expires: at(100)},
		{GrantID: "fam-b", RevokedAt: at(5)},
	}
	same := func(got, want []store.Revocation) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.JTI != w.JTI || g.GrantID != w.GrantID || !g.RevokedAt.Equal(w.RevokedAt) || !g.Expires.Equal(w.Expires) {
				return false
			}
		}
		return true
	}
	if !same(got, want) {
		t.Fatalf("ListRevocations = %+v\nwant %+v", got, want)
	}
	if got := list(at(2), 2); !same(got, want[1:3]) {
		t.Fatalf("ListRevocations(since 2, limit 2) = %+v, want %+v", got, want[1:3])
	}
	if got := list(at(6), 10); len(got) != 0 {
		t.Fatalf("ListRevocations(after the last) = %+v", got)
	}

	// A family revoked in the last half hour of its life stays listed
	// for store.RevokedFamilyRetention after its revocation, though it
	// has expired; one revoked long before its expiry goes at its expiry.
	tl := t0.Add(time.Hour)
	late, rtLate := family("fam-late", tl.Add(30*time.Minute))
	mustOK(t, s.CreateFamily(ctx, late, rtLate))
	mustOK(t, s.RevokeFamily(ctx, "fam-late", "logout", tl))
	listed := func(now time.Time) bool {
		t.Helper()
		_, err := s.DeleteExpired(ctx, now, 100)
		mustOK(t, err)
		for _, r := range list(tl, 10) {
			if r.GrantID == "fam-late" {
				return true
			}
		}
		return false
	}
	if !listed(tl.Add(31 * time.Minute)) {
		t.Fatal("a family revoked 31 minutes ago, expired a minute ago, was removed from the feed")
	}
	if listed(tl.Add(store.RevokedFamilyRetention + time.Minute)) {
		t.Fatal("a revoked family outlived its retention")
	}
	if _, err := s.GetFamily(ctx, "fam-a"); err != nil {
		t.Fatalf("fam-a (revoked, expiring in 24h) removed early: %v", err)
	}
	_, err = s.DeleteExpired(ctx, t0.Add(24*time.Hour+time.Minute), 100)
	mustOK(t, err)
	if _, err := s.GetFamily(ctx, "fam-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("fam-a kept after its expiry, its revocation 24h old: %v", err)
	}
}
