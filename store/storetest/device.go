package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
)

func deviceGrant(name string, exp time.Time) *store.DeviceGrant {
	return &store.DeviceGrant{
		Hash: hash("dc-" + name), UserCodeHash: hash("uc-" + name), ClientID: "c1",
		Scope: "read", Resources: []string{"https://api.example"}, Interval: 5 * time.Second,
		Status: store.DevicePending, CreatedAt: t0, ExpiresAt: exp,
	}
}

// testDeviceGrants: RFC 8628 device authorizations. The user code is
// unique; the decision is taken once; the first poll fixes the key and a
// poll with another key changes nothing; early polls grow the interval
// (§3.5); the redemption is single use and creates the family.
func testDeviceGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := t0.Add(10 * time.Minute)
	g := deviceGrant("a", exp)
	mustOK(t, s.PutDeviceGrant(ctx, g))
	dup := deviceGrant("b", exp)
	dup.UserCodeHash = g.UserCodeHash
	wantErr(t, "duplicate user code", s.PutDeviceGrant(ctx, dup), store.ErrAlreadyExists)

	got, err := s.GetDeviceGrantByUserCode(ctx, g.UserCodeHash, t0)
	mustOK(t, err)
	same(t, "by user code", got, g)
	_, err = s.GetDeviceGrant(ctx, g.Hash, "c2", t0)
	wantErr(t, "another client's device code", err, store.ErrNotFound)
	_, err = s.GetDeviceGrantByUserCode(ctx, g.UserCodeHash, exp)
	wantErr(t, "expired", err, store.ErrExpired)

	// The first poll binds jkt-1; a poll with jkt-2 is refused and
	// records nothing.
	p, slow, err := s.PollDeviceGrant(ctx, g.Hash, "c1", "jkt-1", "", t0, 5*time.Second)
	mustOK(t, err)
	if slow || p.JKT != "jkt-1" || !p.LastPollAt.Equal(t0) {
		t.Fatalf("first poll: slow %v, jkt %q, last %v", slow, p.JKT, p.LastPollAt)
	}
	_, _, err = s.PollDeviceGrant(ctx, g.Hash, "c1", "jkt-2", "", t0.Add(time.Minute), 5*time.Second)
	wantErr(t, "poll with another key", err, store.ErrKeyMismatch)
	_, _, err = s.PollDeviceGrant(ctx, g.Hash, "c1", "", "x5t", t0.Add(time.Minute), 5*time.Second)
	wantErr(t, "poll with a certificate", err, store.ErrKeyMismatch)
	_, _, err = s.PollDeviceGrant(ctx, g.Hash, "c2", "jkt-1", "", t0.Add(time.Minute), 5*time.Second)
	wantErr(t, "poll by another client", err, store.ErrNotFound)

	// §3.5: too early is slow_down, and the interval grows by the step.
	p, slow, err = s.PollDeviceGrant(ctx, g.Hash, "c1", "jkt-1", "", t0.Add(2*time.Second), 5*time.Second)
	mustOK(t, err)
	if !slow || p.Interval != 10*time.Second {
		t.Fatalf("early poll: slow %v, interval %v; want true, 10s", slow, p.Interval)
	}
	p, slow, err = s.PollDeviceGrant(ctx, g.Hash, "c1", "jkt-1", "", t0.Add(5*time.Second), 5*time.Second)
	mustOK(t, err)
	if !slow || p.Interval != 15*time.Second {
		t.Fatalf("poll 3s later with a 10s interval: slow %v, interval %v; want true, 15s", slow, p.Interval)
	}
	p, slow, err = s.PollDeviceGrant(ctx, g.Hash, "c1", "jkt-1", "", t0.Add(20*time.Second), 5*time.Second)
	mustOK(t, err)
	if slow || p.Interval != 15*time.Second {
		t.Fatalf("poll after the interval: slow %v, interval %v", slow, p.Interval)
	}

	fam, rt := family("fam-device", exp)
	wantErr(t, "redeem before approval", s.RedeemDeviceGrant(ctx, g.Hash, fam, rt, t0), store.ErrAlreadyUsed)
	mustOK(t, s.DecideDeviceGrant(ctx, g.UserCodeHash, true, "alice", t0.Add(-time.Minute), t0))
	wantErr(t, "second decision", s.DecideDeviceGrant(ctx, g.UserCodeHash, false, "", time.Time{}, t0), store.ErrAlreadyUsed)
	got, err = s.GetDeviceGrant(ctx, g.Hash, "c1", t0)
	mustOK(t, err)
	if got.Status != store.DeviceApproved || got.Subject != "alice" || !got.AuthTime.Equal(t0.Add(-time.Minute)) {
		t.Fatalf("after approval: %+v", got)
	}
	mustOK(t, s.RedeemDeviceGrant(ctx, g.Hash, fam, rt, t0))
	fam2, _ := family("fam-device-2", exp)
	wantErr(t, "second redemption", s.RedeemDeviceGrant(ctx, g.Hash, fam2, nil, t0), store.ErrAlreadyUsed)
	if _, err := s.GetFamily(ctx, "fam-device"); err != nil {
		t.Fatalf("family of the redemption: %v", err)
	}
	_, err = s.GetFamily(ctx, "fam-device-2")
	wantErr(t, "family of the refused redemption", err, store.ErrNotFound)
	got, _ = s.GetDeviceGrant(ctx, g.Hash, "c1", t0)
	if got.Status != store.DeviceRedeemed || got.FamilyID != "fam-device" {
		t.Fatalf("after redemption: status %q family %q", got.Status, got.FamilyID)
	}

	// Denied; expired grants can be neither decided nor redeemed.
	d := deviceGrant("denied", exp)
	mustOK(t, s.PutDeviceGrant(ctx, d))
	mustOK(t, s.DecideDeviceGrant(ctx, d.UserCodeHash, false, "bob", t0, t0))
	got, _ = s.GetDeviceGrant(ctx, d.Hash, "c1", t0)
	if got.Status != store.DeviceDenied || got.Subject != "" {
		t.Fatalf("after denial: %+v", got)
	}
	e := deviceGrant("expired", t0.Add(time.Second))
	mustOK(t, s.PutDeviceGrant(ctx, e))
	wantErr(t, "decide expired", s.DecideDeviceGrant(ctx, e.UserCodeHash, true, "alice", t0, t0.Add(time.Second)), store.ErrExpired)
	_, _, err = s.PollDeviceGrant(ctx, e.Hash, "c1", "jkt-1", "", t0.Add(time.Second), time.Second)
	wantErr(t, "poll expired", err, store.ErrExpired)
	wantErr(t, "decide unknown", s.DecideDeviceGrant(ctx, hash("nope"), true, "alice", t0, t0), store.ErrNotFound)

	// The sweep removes expired grants and keeps live ones; the user code
	// of a swept grant can be drawn again.
	_, err = s.DeleteExpired(ctx, t0.Add(time.Minute), 100)
	mustOK(t, err)
	_, err = s.GetDeviceGrant(ctx, e.Hash, "c1", t0)
	wantErr(t, "swept grant", err, store.ErrNotFound)
	_, err = s.GetDeviceGrant(ctx, d.Hash, "c1", t0)
	mustOK(t, err)
	again := deviceGrant("again", exp)
	again.UserCodeHash = e.UserCodeHash
	mustOK(t, s.PutDeviceGrant(ctx, again))
}

// testDeviceBindRace: of concurrent first polls with different keys,
// exactly one binds its key; every other poll is slow_down or refused.
func testDeviceBindRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := deviceGrant("race", t0.Add(time.Hour))
	mustOK(t, s.PutDeviceGrant(ctx, g))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		bound []string
	)
	for i := range Racers {
		wg.Go(func() {
			jkt := string(rune('A'+i%26)) + string(rune('a'+i/26))
			p, slow, err := s.PollDeviceGrant(ctx, g.Hash, "c1", jkt, "", t0, time.Second)
			if err == nil && !slow && p.JKT == jkt {
				mu.Lock()
				bound = append(bound, jkt)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got, err := s.GetDeviceGrant(ctx, g.Hash, "c1", t0)
	mustOK(t, err)
	if len(bound) != 1 || got.JKT != bound[0] {
		t.Fatalf("%d polls bound their key (%v); stored %q", len(bound), bound, got.JKT)
	}
}
