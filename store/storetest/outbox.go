package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
)

func delivery(id string, next time.Time) *store.LogoutDelivery {
	return &store.LogoutDelivery{ID: id, ClientID: "app-é", Subject: "alice", SID: "sid-" + id,
		NextAt: next, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
}

// testLogoutOutbox: enqueue, claim due rows only (oldest first, at most
// n), a claimed row is not claimed again before its lease ends and then
// is, with attempts counted; only the claim's holder retries or finishes
// it; DeleteExpired drops rows past their expiry.
func testLogoutOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b, later := delivery("a", t0), delivery("b", t0.Add(-time.Second)), delivery("c", t0.Add(time.Hour))
	mustOK(t, s.EnqueueLogouts(ctx, []*store.LogoutDelivery{a, b, later}))
	wantErr(t, "enqueue duplicate", s.EnqueueLogouts(ctx, []*store.LogoutDelivery{delivery("a", t0)}), store.ErrAlreadyExists)
	mustOK(t, s.EnqueueLogouts(ctx, nil))

	// Oldest due first.
	got, err := s.ClaimLogouts(ctx, "c1", t0, time.Minute, 1)
	mustOK(t, err)
	if len(got) != 1 || got[0].ID != "b" {
		t.Fatalf("claim 1: %+v, want b (the oldest due)", got)
	}
	got, err = s.ClaimLogouts(ctx, "c1", t0, time.Minute, 10)
	mustOK(t, err)
	if len(got) != 1 || got[0].ID != "a" {
		t.Fatalf("claim: %+v, want a (b is leased, c is not due)", got)
	}
	want := *a
	want.Attempts, want.NextAt, want.Claim = 1, t0.Add(time.Minute), "c1"
	same(t, "claimed a", got[0], &want)

	// Leased: not claimed again before the lease ends.
	again, err := s.ClaimLogouts(ctx, "c2", t0.Add(59*time.Second), time.Minute, 10)
	mustOK(t, err)
	if len(again) != 0 {
		t.Fatalf("claim within the lease: %+v", again)
	}
	// The lease ended (its claimant died): c2 takes one, and c1 lost it.
	again, err = s.ClaimLogouts(ctx, "c2", t0.Add(time.Minute), time.Minute, 1)
	mustOK(t, err)
	if len(again) != 1 || again[0].Attempts != 2 || again[0].Claim != "c2" {
		t.Fatalf("claim after the lease: %+v, want one row, attempt 2, claim c2", again)
	}
	id := again[0].ID
	wantErr(t, "finish by a lost claim", s.FinishLogout(ctx, id, "c1"), store.ErrNotFound)
	wantErr(t, "retry by a lost claim", s.RetryLogout(ctx, id, "c1", t0), store.ErrNotFound)
	wantErr(t, "finish without claim", s.FinishLogout(ctx, id, ""), store.ErrNotFound)
	mustOK(t, s.RetryLogout(ctx, id, "c2", t0.Add(2*time.Hour)))
	wantErr(t, "finish after release", s.FinishLogout(ctx, id, "c2"), store.ErrNotFound)

	other := "a"
	if id == "a" {
		other = "b"
	}
	more, err := s.ClaimLogouts(ctx, "c3", t0.Add(2*time.Minute), time.Minute, 10)
	mustOK(t, err)
	if len(more) != 1 || more[0].ID != other {
		t.Fatalf("claim: %+v, want only %s (%s is due later)", more, other, id)
	}
	mustOK(t, s.FinishLogout(ctx, other, "c3"))
	wantErr(t, "finish twice", s.FinishLogout(ctx, other, "c3"), store.ErrNotFound)

	// Expired rows go, whatever their state.
	n, err := s.DeleteExpired(ctx, t0.Add(24*time.Hour), 100)
	mustOK(t, err)
	if n < 2 {
		t.Fatalf("DeleteExpired removed %d rows, want the 2 deliveries left", n)
	}
	left, err := s.ClaimLogouts(ctx, "c4", t0.Add(100*time.Hour), time.Minute, 10)
	mustOK(t, err)
	if len(left) != 0 {
		t.Fatalf("after DeleteExpired: %+v", left)
	}
}

// testLogoutClaimRace: instances claiming at once never take one
// delivery twice, and together take every due one.
func testLogoutClaimRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 40
	var ds []*store.LogoutDelivery
	for i := range n {
		ds = append(ds, delivery(fmt.Sprint("d", i), t0))
	}
	mustOK(t, s.EnqueueLogouts(ctx, ds))
	var mu sync.Mutex
	seen := map[string]int{}
	errs := race(func(i int) error {
		got, err := s.ClaimLogouts(ctx, fmt.Sprint("claim-", i), t0, time.Minute, 3)
		mu.Lock()
		defer mu.Unlock()
		for _, d := range got {
			seen[d.ID]++
		}
		return err
	})
	for _, err := range errs {
		mustOK(t, err)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s claimed %d times", id, c)
		}
	}
	if len(seen) != n {
		t.Errorf("%d of %d deliveries claimed by %d claimers of 3", len(seen), n, Racers)
	}
}
