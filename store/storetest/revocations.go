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
}
