package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
)

// grace is the window the suite passes to RotateRefreshTokenGrace.
const grace = 30 * time.Second

// testRotateGrace: a rotated token presented again within the grace
// window, while its successor is unused, replaces the successor; in every
// other case a rotated token is a reuse that revokes the family.
func testRotateGrace(t *testing.T, open func(*testing.T) store.Store) {
	famExp := t0.Add(24 * time.Hour)
	// rotated makes a family whose first token rt was rotated at t0 into
	// "s1", the unused successor.
	rotated := func(t *testing.T) (store.Store, *store.RefreshToken) {
		s := open(t)
		fam, rt := family("fam1", famExp)
		mustOK(t, s.CreateFamily(t.Context(), fam, rt))
		_, err := s.RotateRefreshToken(t.Context(), rt.Hash, refresh("s1", famExp), t0)
		mustOK(t, err)
		return s, rt
	}
	wantRevoked := func(t *testing.T, s store.Store, what string, err error) {
		t.Helper()
		wantErr(t, what, err, store.ErrAlreadyUsed)
		if f, err := s.GetFamily(t.Context(), "fam1"); err != nil || !f.Revoked() {
			t.Fatalf("%s: family %+v %v, want revoked", what, f, err)
		}
	}
	wantUnused := func(t *testing.T, s store.Store, name string, unused bool) {
		t.Helper()
		rt, _, err := s.GetRefreshToken(t.Context(), hash(name))
		mustOK(t, err)
		if rt.RotatedAt.IsZero() != unused {
			t.Fatalf("%s: rotated at %v, want unused %v", name, rt.RotatedAt, unused)
		}
	}
	t.Run("WithinGraceReplacesUnusedSuccessor", func(t *testing.T) {
		s, rt := rotated(t)
		ctx := t.Context()
		f, reissued, err := s.RotateRefreshTokenGrace(ctx, rt.Hash, refresh("s2", famExp), t0.Add(grace-time.Nanosecond), grace)
		mustOK(t, err)
		if !reissued || f == nil || f.ID != "fam1" || f.Revoked() {
			t.Fatalf("reissued %v, family %+v: want a re-issue in the live family", reissued, f)
		}
		wantUnused(t, s, "s1", false)
		wantUnused(t, s, "s2", true)
		old, _, err := s.GetRefreshToken(ctx, rt.Hash)
		mustOK(t, err)
		if !old.RotatedAt.Equal(t0) {
			t.Fatalf("old token rotated at %v, want %v: the window moved", old.RotatedAt, t0)
		}
		// The new successor rotates normally.
		_, err = s.RotateRefreshToken(ctx, hash("s2"), refresh("s3", famExp), t0.Add(grace))
		mustOK(t, err)
	})
	t.Run("ReplacedSuccessorIsReuse", func(t *testing.T) {
		s, rt := rotated(t)
		_, _, err := s.RotateRefreshTokenGrace(t.Context(), rt.Hash, refresh("s2", famExp), t0.Add(time.Second), grace)
		mustOK(t, err)
		_, _, err = s.RotateRefreshTokenGrace(t.Context(), hash("s1"), refresh("s3", famExp), t0.Add(2*time.Second), grace)
		wantRevoked(t, s, "the replaced successor presented", err)
	})
	t.Run("WindowDoesNotMove", func(t *testing.T) {
		s, rt := rotated(t)
		_, _, err := s.RotateRefreshTokenGrace(t.Context(), rt.Hash, refresh("s2", famExp), t0.Add(grace-time.Second), grace)
		mustOK(t, err)
		_, _, err = s.RotateRefreshTokenGrace(t.Context(), rt.Hash, refresh("s3", famExp), t0.Add(grace), grace)
		wantRevoked(t, s, "second retry after the first rotation's window", err)
	})
	t.Run("AfterGraceRevokes", func(t *testing.T) {
		s, rt := rotated(t)
		_, _, err := s.RotateRefreshTokenGrace(t.Context(), rt.Hash, refresh("s2", famExp), t0.Add(grace), grace)
		wantRevoked(t, s, "at the end of the window", err)
		_, _, err = s.GetRefreshToken(t.Context(), hash("s2"))
		wantErr(t, "token of the refused re-issue", err, store.ErrNotFound)
	})
	t.Run("SuccessorUsedRevokes", func(t *testing.T) {
		s, rt := rotated(t)
		_, err := s.RotateRefreshToken(t.Context(), hash("s1"), refresh("s2", famExp), t0.Add(time.Second))
		mustOK(t, err)
		_, _, err = s.RotateRefreshTokenGrace(t.Context(), rt.Hash, refresh("s3", famExp), t0.Add(2*time.Second), grace)
		wantRevoked(t, s, "successor already used", err)
	})
	t.Run("ZeroGraceIsStrict", func(t *testing.T) {
		s, rt := rotated(t)
		_, _, err := s.RotateRefreshTokenGrace(t.Context(), rt.Hash, refresh("s2", famExp), t0.Add(time.Second), 0)
		wantRevoked(t, s, "grace 0", err)
	})
	t.Run("RevokedFamilyStaysRevoked", func(t *testing.T) {
		s, rt := rotated(t)
		mustOK(t, s.RevokeFamily(t.Context(), "fam1", "logout", t0.Add(time.Second)))
		_, _, err := s.RotateRefreshTokenGrace(t.Context(), rt.Hash, refresh("s2", famExp), t0.Add(2*time.Second), grace)
		wantErr(t, "revoked family", err, store.ErrAlreadyUsed)
		_, _, err = s.GetRefreshToken(t.Context(), hash("s2"))
		wantErr(t, "token of the refused re-issue", err, store.ErrNotFound)
	})
	t.Run("LiveTokenRotates", func(t *testing.T) {
		s := open(t)
		fam, rt := family("fam1", famExp)
		mustOK(t, s.CreateFamily(t.Context(), fam, rt))
		_, reissued, err := s.RotateRefreshTokenGrace(t.Context(), rt.Hash, refresh("s1", famExp), t0, grace)
		mustOK(t, err)
		if reissued {
			t.Fatal("a first rotation reported as a re-issue")
		}
		wantUnused(t, s, "s1", true)
	})
}

// raceRotateGrace: Racers concurrent grace rotations of one live token
// (a client's retries racing at several instances) all succeed, one after
// the other, and leave exactly one unused successor.
func raceRotateGrace(t *testing.T, open func(*testing.T) store.Store) {
	s, ctx := open(t), t.Context()
	fam, rt := family("fam", t0.Add(time.Hour))
	mustOK(t, s.CreateFamily(ctx, fam, rt))
	errs := race(func(i int) error {
		_, _, err := s.RotateRefreshTokenGrace(ctx, rt.Hash, refresh(fmt.Sprint("next-", i), t0.Add(time.Hour)), t0, grace)
		return err
	})
	unused := 0
	for i, err := range errs {
		mustOK(t, err)
		got, _, err := s.GetRefreshToken(ctx, hash(fmt.Sprint("next-", i)))
		mustOK(t, err)
		if got.RotatedAt.IsZero() {
			unused++
		}
	}
	if unused != 1 {
		t.Fatalf("%d unused successors after %d concurrent grace rotations, want 1", unused, Racers)
	}
	if f, err := s.GetFamily(ctx, "fam"); err != nil || f.Revoked() {
		t.Fatalf("family %+v %v, want live", f, err)
	}
}
