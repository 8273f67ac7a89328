package storetest

import (
	"testing"
	"time"

	"github.com/wardauth/ward/store"
)

// testEvents checks the security events: stored as given, listed newest
// first, filtered by type, client, subject and time, bounded by the limit,
// and swept by DeleteExpired once expired.
func testEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	list := func(f store.EventFilter) []store.SecurityEvent {
		t.Helper()
		got, err := s.ListEvents(ctx, f)
		mustOK(t, err)
		return got
	}
	if got := list(store.EventFilter{}); len(got) != 0 {
		t.Fatalf("empty store lists %+v", got)
	}
	mustOK(t, s.AppendEvents(ctx, nil))
	ev := func(i int, typ, client, sub string, exp time.Time) store.SecurityEvent {
		return store.SecurityEvent{Time: at(i), Type: typ, Severity: "critical", Instance: "i1", ClientID: client,
			Subject: sub, JKT: "jkt", FamilyID: "fam", ClientAddr: "192.0.2.1", Route: "api", Reason: "r", Actor: "admin-" + sub, Expires: exp}
	}
	long := t0.Add(24 * time.Hour)
	mustOK(t, s.AppendEvents(ctx, []store.SecurityEvent{
		ev(1, "token_leaked", "app", "alice", long),
		ev(2, "login_failed", "", "bob", at(10)),
		ev(3, "code_replayed", "app", "bob", long),
	}))
	mustOK(t, s.AppendEvents(ctx, []store.SecurityEvent{ev(4, "token_leaked", "other", "alice", long)}))

	got := list(store.EventFilter{})
	if len(got) != 4 || !got[0].Time.Equal(at(4)) || !got[3].Time.Equal(at(1)) {
		t.Fatalf("all events = %+v, want 4 newest first", got)
	}
	want := ev(1, "token_leaked", "app", "alice", long)
	e := got[3]
	if e.ID == 0 || e.ID >= got[0].ID || !e.Time.Equal(want.Time) || !e.Expires.Equal(want.Expires) {
		t.Errorf("stored event %+v: ids must increase, times round-trip", e)
	}
	e.ID, e.Time, e.Expires, want.Time, want.Expires = 0, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if e != want {
		t.Errorf("stored event = %+v, want %+v", e, want)
	}
	count := func(name string, f store.EventFilter, n int) {
		t.Helper()
		if got := list(f); len(got) != n {
			t.Errorf("%s: %d events, want %d: %+v", name, len(got), n, got)
		}
	}
	count("type", store.EventFilter{Types: []string{"token_leaked"}}, 2)
	count("two types", store.EventFilter{Types: []string{"token_leaked", "login_failed"}}, 3)
	count("client", store.EventFilter{ClientID: "app"}, 2)
	count("subject", store.EventFilter{Subject: "alice"}, 2)
	count("client and subject", store.EventFilter{ClientID: "app", Subject: "bob"}, 1)
	count("since", store.EventFilter{Since: at(3)}, 2)
	count("limit", store.EventFilter{Limit: 3}, 3)

	n, err := s.DeleteExpired(ctx, at(10), 100)
	mustOK(t, err)
	if n != 1 {
		t.Errorf("DeleteExpired removed %d rows, want the 1 expired event", n)
	}
	count("after the sweep", store.EventFilter{}, 3)
	count("the expired type", store.EventFilter{Types: []string{"login_failed"}}, 0)
}
