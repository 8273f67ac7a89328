package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
)

// testEvents checks the security events: stored as given, listed newest
// first, filtered by type, severity, client, subject and time, bounded by
// the limit, paged by cursor, counted by bucket and client, and swept by
// DeleteExpired once expired.
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

	count("until", store.EventFilter{Until: at(3)}, 2)
	count("since and until", store.EventFilter{Since: at(2), Until: at(4)}, 2)
	count("severity", store.EventFilter{Severities: []string{"critical"}}, 4)
	count("other severity", store.EventFilter{Severities: []string{"info"}}, 0)
	testEventsHostileFilter(t, s)
	testEventsPaging(t, s, got)
	testEventsGet(t, s, got[3])
	testEventsCount(t, s)

	n, err := s.DeleteExpired(ctx, at(10), 100)
	mustOK(t, err)
	if n != 1 {
		t.Errorf("DeleteExpired removed %d rows, want the 1 expired event", n)
	}
	early := store.EventFilter{Until: at(11)}
	count("after the sweep", early, 4) // 3 left and the paging twin
	early.Types = []string{"login_failed"}
	count("the expired type", early, 0)
}

// testEventsHostileFilter: filter values are bound parameters, never
// text of the query: SQL in a client ID or a type matches nothing and
// breaks nothing.
func testEventsHostileFilter(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, f := range []store.EventFilter{
		{ClientID: "app' OR '1'='1"},
		{Subject: "x\" OR 1=1 --"},
		{Types: []string{"token_leaked') OR ('1'='1"}},
		{Severities: []string{"critical' --"}},
	} {
		got, err := s.ListEvents(ctx, f)
		mustOK(t, err)
		if len(got) != 0 {
			t.Errorf("hostile filter %+v lists %d events, want none", f, len(got))
		}
		counts, err := s.CountEvents(ctx, f, time.Hour)
		mustOK(t, err)
		if len(counts) != 0 {
			t.Errorf("hostile filter %+v counts %+v, want none", f, counts)
		}
	}
}

// testEventsPaging walks the list two at a time by cursor: every event
// once, in order, also when two events share a time.
func testEventsPaging(t *testing.T, s store.Store, all []store.SecurityEvent) {
	ctx := t.Context()
	// Another event at the time of the newest: the cursor's ID breaks
	// the tie.
	twin := all[0]
	twin.Type = "proof_replayed"
	mustOK(t, s.AppendEvents(ctx, []store.SecurityEvent{twin}))
	var walked []int64
	var after store.EventCursor
	for range 10 {
		page, err := s.ListEvents(ctx, store.EventFilter{Limit: 2, After: after})
		mustOK(t, err)
		for _, e := range page {
			walked = append(walked, e.ID)
		}
		if len(page) < 2 {
			break
		}
		last := page[len(page)-1]
		after = store.EventCursor{Time: last.Time, ID: last.ID}
	}
	full, err := s.ListEvents(ctx, store.EventFilter{})
	mustOK(t, err)
	if len(walked) != len(full) || len(full) != len(all)+1 {
		t.Fatalf("paged through %v, listed %d, want %d", walked, len(full), len(all)+1)
	}
	for i := range full {
		if full[i].ID != walked[i] {
			t.Fatalf("paged order %v differs from the list at %d (%d)", walked, i, full[i].ID)
		}
	}
	if full[0].ID <= full[1].ID || !full[0].Time.Equal(full[1].Time) {
		t.Errorf("twins not ordered by ID: %+v, %+v", full[0], full[1])
	}
	page, err := s.ListEvents(ctx, store.EventFilter{Types: []string{"token_leaked"}, After: store.EventCursor{Time: full[0].Time, ID: full[0].ID}})
	mustOK(t, err)
	if len(page) != 2 {
		t.Errorf("filtered page after the newest: %d events, want 2", len(page))
	}
}

// testEventsGet reads one event by ID; a missing ID is ErrNotFound.
func testEventsGet(t *testing.T, s store.Store, want store.SecurityEvent) {
	ctx := t.Context()
	got, err := s.GetEvent(ctx, want.ID)
	mustOK(t, err)
	if got.ID != want.ID || !got.Time.Equal(want.Time) || got.ClientID != want.ClientID || got.Type != want.Type {
		t.Errorf("GetEvent(%d) = %+v, want %+v", want.ID, got, want)
	}
	if _, err := s.GetEvent(ctx, want.ID+1000); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetEvent of a missing ID: %v, want ErrNotFound", err)
	}
}

// testEventsCount checks the aggregates: counts by type per bucket
// aligned on the step, and the clients named most.
func testEventsCount(t *testing.T, s store.Store) {
	ctx := t.Context()
	base := t0.Truncate(24 * time.Hour).Add(48 * time.Hour) // aligned on 1h and 2h
	long := base.Add(24 * time.Hour)
	ev := func(d time.Duration, typ, client string) store.SecurityEvent {
		return store.SecurityEvent{Time: base.Add(d), Type: typ, Severity: "warning", ClientID: client, Expires: long}
	}
	mustOK(t, s.AppendEvents(ctx, []store.SecurityEvent{
		ev(time.Minute, "proof_replayed", "a"), ev(2*time.Minute, "proof_replayed", "b"),
		ev(3*time.Minute, "nonce_failure", "a"), ev(61*time.Minute, "proof_replayed", "a"),
		ev(62*time.Minute, "login_failed", ""), ev(3*time.Hour, "proof_replayed", "c"),
	}))
	f := store.EventFilter{Since: base, Until: base.Add(2 * time.Hour)}
	got, err := s.CountEvents(ctx, f, time.Hour)
	mustOK(t, err)
	c := func(start time.Time, typ string, n int64) store.EventCount {
		return store.EventCount{Start: start, Type: typ, Count: n}
	}
	want := []store.EventCount{
		c(base, "nonce_failure", 1), c(base, "proof_replayed", 2),
		c(base.Add(time.Hour), "login_failed", 1), c(base.Add(time.Hour), "proof_replayed", 1),
	}
	if len(got) != len(want) {
		t.Fatalf("CountEvents = %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].Start.Equal(want[i].Start) || got[i].Type != want[i].Type || got[i].Count != want[i].Count {
			t.Errorf("CountEvents[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	typed := f
	typed.Types = []string{"proof_replayed"}
	if got, err := s.CountEvents(ctx, typed, 2*time.Hour); err != nil || len(got) != 1 || got[0].Count != 3 {
		t.Errorf("CountEvents of one type in a 2h step = %+v, %v; want one bucket of 3", got, err)
	}
	if _, err := s.CountEvents(ctx, f, time.Millisecond); err == nil {
		t.Error("CountEvents with a step below a second succeeded")
	}
	top, err := s.TopEventClients(ctx, f, 2)
	mustOK(t, err)
	if len(top) != 2 || top[0] != (store.EventClientCount{ClientID: "a", Count: 3}) || top[1] != (store.EventClientCount{ClientID: "b", Count: 1}) {
		t.Errorf("TopEventClients = %+v, want a:3, b:1 (no empty client, c outside the window)", top)
	}
}
