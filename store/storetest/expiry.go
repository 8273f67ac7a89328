package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
)

func testDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	cutoff := t0.Add(time.Hour)
	old, live := t0.Add(time.Minute), t0.Add(2*time.Hour)

	for i := range 3 {
		mustOK(t, s.PutCode(ctx, authCode(fmt.Sprint("old-code-", i), old)))
	}
	mustOK(t, s.PutCode(ctx, authCode("live-code", live)))
	// An expired family with two tokens, one rotated.
	famOld, rtOld := family("fam-old", old)
	mustOK(t, s.CreateFamily(ctx, famOld, rtOld))
	_, err := s.RotateRefreshToken(ctx, rtOld.Hash, refresh("fam-old-2", old), t0)
	mustOK(t, err)
	// A live family whose first token's own expiry has passed and which
	// was rotated: the token is kept while the family lives, so a replay
	// is still detected.
	famLive, rtLive := family("fam-live", t0.Add(24*time.Hour))
	rtLive.ExpiresAt = old
	mustOK(t, s.CreateFamily(ctx, famLive, rtLive))
	_, err = s.RotateRefreshToken(ctx, rtLive.Hash, refresh("fam-live-2", live), t0)
	mustOK(t, err)
	mustOK(t, s.PutPAR(ctx, &store.PARRequest{ID: "par-old", ClientID: "c1", CreatedAt: t0, ExpiresAt: old}))
	mustOK(t, s.PutPAR(ctx, &store.PARRequest{ID: "par-live", ClientID: "c1", CreatedAt: t0, ExpiresAt: live}))
	mustOK(t, s.UseOnce(ctx, "ot-old", old, t0))
	otLive := live
	mustOK(t, s.UseOnce(ctx, "ot-live", otLive, t0))
	mustOK(t, s.RevokeAccessToken(ctx, "jti-old", old, t0))
	mustOK(t, s.RevokeAccessToken(ctx, "jti-live", live, t0))
	mustOK(t, s.PutSession(ctx, &store.Session{Hash: hash("sess-old"), Subject: "alice", CreatedAt: t0, ExpiresAt: old}))
	mustOK(t, s.PutSession(ctx, &store.Session{Hash: hash("sess-live"), Subject: "alice", CreatedAt: t0, ExpiresAt: live}))
	mustOK(t, s.PutSigningKey(ctx, &store.SigningKey{ID: "k-expired", Algorithm: "ES256", PublicJWK: []byte("{}"),
		PrivateEnc: []byte{1}, CreatedAt: t0, ExpiresAt: old}))

	// Expired rows: 3 codes, 2 refresh tokens, 1 family, 1 PAR, 1 one-time
	// value, 1 revoked access token, 1 session.
	const expired = 10

	codesLeft := func() int {
		n := 0
		for i := range 3 {
			if _, err := s.GetCode(ctx, hash(fmt.Sprint("old-code-", i)), t0); err == nil {
				n++
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
		}
		return n
	}

	if _, err := s.DeleteExpired(ctx, cutoff, 0); err == nil {
		t.Fatal("DeleteExpired with batch 0: no error")
	}
	// Batch 1: one row of each kind per call.
	n, err := s.DeleteExpired(ctx, cutoff, 1)
	mustOK(t, err)
	if left := codesLeft(); left != 2 {
		t.Fatalf("after one batch of 1, %d expired codes left, want 2", left)
	}
	total := n
	for calls := 0; n > 0; calls++ {
		if calls > expired {
			t.Fatal("DeleteExpired does not converge")
		}
		n, err = s.DeleteExpired(ctx, cutoff, 1)
		mustOK(t, err)
		total += n
	}
	if total != expired {
		t.Fatalf("DeleteExpired removed %d rows in all, want %d", total, expired)
	}
	if left := codesLeft(); left != 0 {
		t.Fatalf("%d expired codes left", left)
	}

	// Expired rows are gone.
	_, err = s.GetFamily(ctx, "fam-old")
	wantErr(t, "expired family", err, store.ErrNotFound)
	_, _, err = s.GetRefreshToken(ctx, hash("fam-old-2"))
	wantErr(t, "token of expired family", err, store.ErrNotFound)
	_, err = s.ConsumePAR(ctx, "par-old", "c1", t0)
	wantErr(t, "expired PAR", err, store.ErrNotFound)
	if r, _ := s.AccessTokenRevoked(ctx, "jti-old"); r {
		t.Fatal("expired access token revocation kept")
	}
	_, err = s.GetSession(ctx, hash("sess-old"), t0)
	wantErr(t, "expired session", err, store.ErrNotFound)

	// Live rows are kept.
	_, err = s.GetCode(ctx, hash("live-code"), t0)
	mustOK(t, err)
	rt, _, err := s.GetRefreshToken(ctx, rtLive.Hash)
	mustOK(t, err)
	if rt.RotatedAt.IsZero() {
		t.Fatal("rotated token of live family lost its RotatedAt")
	}
	_, _, err = s.GetRefreshToken(ctx, hash("fam-live-2"))
	mustOK(t, err)
	_, err = s.ConsumePAR(ctx, "par-live", "c1", t0)
	mustOK(t, err)
	wantErr(t, "live one-time value", s.UseOnce(ctx, "ot-live", otLive, t0), store.ErrAlreadyUsed)
	if r, _ := s.AccessTokenRevoked(ctx, "jti-live"); !r {
		t.Fatal("live access token revocation removed")
	}
	_, err = s.GetSession(ctx, hash("sess-live"), t0)
	mustOK(t, err)
	keys, err := s.ListSigningKeys(ctx)
	mustOK(t, err)
	if len(keys) != 1 {
		t.Fatal("DeleteExpired removed a signing key")
	}
}

// race starts Racers goroutines at once and returns their errors.
func race(f func(i int) error) []error {
	errs := make([]error, Racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range Racers {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// tally checks that exactly one call succeeded and every other failed with
// want, and returns the winner's index.
func tally(t *testing.T, what string, errs []error, want error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("%s: calls %d and %d both succeeded", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, want):
			t.Fatalf("%s: call %d: %v, want nil or %v", what, i, err, want)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no call succeeded", what)
	}
	return winner
}

// testRaces presents one single-use value from Racers goroutines at once.
//
// For codes and refresh tokens the right outcome is not only "one winner":
// every loser presented a value that had been used, which is exactly what a
// replay looks like, and the store cannot tell a confused client from an
// attacker who stole the token. So the losers get ErrAlreadyUsed and the
// family the winner created or extended ends up revoked (RFC 9700 §4.5,
// §4.14.2). The winner's own result is still consistent: exactly one
// successor token or family exists.
func testRaces(t *testing.T, open func(*testing.T) store.Store) {
	t.Run("RotateRefreshToken", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		fam, rt := family("fam", t0.Add(time.Hour))
		mustOK(t, s.CreateFamily(ctx, fam, rt))
		errs := race(func(i int) error {
			_, err := s.RotateRefreshToken(ctx, rt.Hash, refresh(fmt.Sprint("next-", i), t0.Add(time.Hour)), t0)
			return err
		})
		winner := tally(t, "rotate", errs, store.ErrAlreadyUsed)
		for i := range Racers {
			_, _, err := s.GetRefreshToken(ctx, hash(fmt.Sprint("next-", i)))
			if (i == winner) != (err == nil) {
				t.Fatalf("successor %d (winner %d): %v", i, winner, err)
			}
		}
		f, err := s.GetFamily(ctx, "fam")
		mustOK(t, err)
		if !f.Revoked() {
			t.Fatal("family not revoked after concurrent reuse")
		}
	})
	t.Run("RotateRefreshTokenGrace", func(t *testing.T) { raceRotateGrace(t, open) })
	t.Run("RedeemCode", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		c := authCode("code", t0.Add(time.Minute))
		mustOK(t, s.PutCode(ctx, c))
		errs := race(func(i int) error {
			f, rt := family(fmt.Sprint("fam-", i), t0.Add(time.Hour))
			return s.RedeemCode(ctx, c.Hash, f, rt, t0)
		})
		winner := tally(t, "redeem", errs, store.ErrAlreadyUsed)
		for i := range Racers {
			f, err := s.GetFamily(ctx, fmt.Sprint("fam-", i))
			if i != winner {
				wantErr(t, fmt.Sprint("loser family ", i), err, store.ErrNotFound)
				continue
			}
			mustOK(t, err)
			if !f.Revoked() {
				t.Fatal("winner's family not revoked after concurrent reuse")
			}
		}
		got, err := s.GetCode(ctx, c.Hash, t0)
		wantErr(t, "code after race", err, store.ErrAlreadyUsed)
		if got.FamilyID != fmt.Sprint("fam-", winner) {
			t.Fatalf("code FamilyID = %q, want fam-%d", got.FamilyID, winner)
		}
	})
	t.Run("ConsumePAR", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustOK(t, s.PutPAR(ctx, &store.PARRequest{ID: "req", ClientID: "c1", Params: "a=b", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
		errs := race(func(int) error {
			p, err := s.ConsumePAR(ctx, "req", "c1", t0)
			if err == nil && p.Params != "a=b" {
				return fmt.Errorf("consumed %+v", p)
			}
			return err
		})
		tally(t, "consume PAR", errs, store.ErrNotFound)
	})
	t.Run("ConsumePAR_other_clients", func(t *testing.T) {
		// Racers-1 other clients race the owner: none of them uses the
		// request up, whatever the order, so the owner always gets it.
		s, ctx := open(t), t.Context()
		mustOK(t, s.PutPAR(ctx, &store.PARRequest{ID: "req", ClientID: "c1", Params: "a=b", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
		errs := race(func(i int) error {
			if i == 0 {
				_, err := s.ConsumePAR(ctx, "req", "c1", t0)
				return err
			}
			_, err := s.ConsumePAR(ctx, "req", fmt.Sprint("c", i+1), t0)
			if err == nil {
				return fmt.Errorf("client c%d consumed c1's request", i+1)
			}
			return err
		})
		if w := tally(t, "consume PAR among other clients", errs, store.ErrNotFound); w != 0 {
			t.Fatalf("racer %d won, want the owner", w)
		}
	})
	t.Run("UseOnce", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		exp := time.Now().Add(time.Hour)
		errs := race(func(int) error { return s.UseOnce(ctx, "jti", exp, t0) })
		tally(t, "use once", errs, store.ErrAlreadyUsed)
	})
	// Instances starting together all declare the same static user: every
	// upsert succeeds, and the username stays unique to its subject.
	t.Run("UpsertUser", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		errs := race(func(int) error {
			return s.UpsertUser(ctx, &store.User{Subject: "u-race", Username: "race", PasswordHash: "h", Static: true, CreatedAt: t0, UpdatedAt: t0})
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("racer %d: %v", i, err)
			}
		}
		err := s.UpsertUser(ctx, &store.User{Subject: "u-other", Username: "race", PasswordHash: "h", CreatedAt: t0, UpdatedAt: t0})
		wantErr(t, "username of another subject", err, store.ErrAlreadyExists)
	})
}
