package revocation_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wardauth/ward/revocation"
)

// fakeSource answers from a list, pages of size, and records the cursors
// asked for.
type fakeSource struct {
	entries []revocation.Entry
	size    int
	asked   []time.Time
	err     error
}

func (f *fakeSource) Revocations(_ context.Context, since revocation.Cursor) (revocation.Page, error) {
	f.asked = append(f.asked, time.Time(since))
	if f.err != nil {
		return revocation.Page{}, f.err
	}
	p := revocation.Page{Next: since}
	for _, e := range f.entries {
		if e.RevokedAt.Before(time.Time(since)) {
			continue
		}
		if len(p.Entries) == f.size {
			p.More = true
			break
		}
		p.Entries = append(p.Entries, e)
		p.Next = revocation.Cursor(e.RevokedAt)
	}
	return p, nil
}

// TestFollowerSync: the first sync catches up from CatchUp ago, paging
// until the source has nothing more; later syncs ask from the newest
// entry seen minus the overlap, never further back; a failed sync does
// not mark the set synced.
func TestFollowerSync(t *testing.T) {
	c := &clock{t0}
	src := &fakeSource{size: 2}
	for i := range 5 {
		at := t0.Add(-time.Duration(50-i) * time.Minute)
		src.entries = append(src.entries, revocation.Entry{JTI: "j" + string(rune('0'+i)), RevokedAt: at, Expires: at.Add(time.Hour)})
	}
	set := revocation.NewSet(revocation.SetOptions{Clock: c.Now})
	f := &revocation.Follower{Source: src, Set: set, Clock: c.Now, Overlap: 10 * time.Second, CatchUp: time.Hour}
	if err := f.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if set.Len() != 5 {
		t.Fatalf("caught up %d entries, want 5", set.Len())
	}
	if len(src.asked) < 3 || !src.asked[0].Equal(t0.Add(-time.Hour-10*time.Second)) {
		t.Fatalf("cursors asked %v: want pages from 1h10s ago", src.asked)
	}
	if stale, _ := set.Stale(); stale {
		t.Fatal("set stale after a sync")
	}
	newest := src.entries[4].RevokedAt
	src.asked = nil
	c.now = t0.Add(time.Second)
	if err := f.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if want := newest.Add(-10 * time.Second); !slices.EqualFunc(src.asked, []time.Time{want}, time.Time.Equal) {
		t.Fatalf("second sync asked %v, want [%v]", src.asked, want)
	}
	src.err = errors.New("down")
	c.now = t0.Add(time.Minute)
	if err := f.Sync(t.Context()); err == nil {
		t.Fatal("a failed poll reported no error")
	}
	if stale, last := set.Stale(); !stale || !last.Equal(t0.Add(time.Second)) {
		t.Fatalf("after a failed poll: stale %v, last sync %v", stale, last)
	}
}

// TestFollowerStuckPage: a full page whose entries all share the cursor's
// instant ends the sync instead of looping.
func TestFollowerStuckPage(t *testing.T) {
	c := &clock{t0}
	src := &fakeSource{size: 1}
	for _, id := range []string{"a", "b", "c"} {
		src.entries = append(src.entries, revocation.Entry{JTI: id, RevokedAt: t0, Expires: t0.Add(time.Hour)})
	}
	f := &revocation.Follower{Source: src, Set: revocation.NewSet(revocation.SetOptions{Clock: c.Now}), Clock: c.Now}
	if err := f.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(src.asked) > 3 {
		t.Fatalf("asked %d pages", len(src.asked))
	}
}

// TestFollowerStuckPageFailsClosed: the revocations a stuck page hides
// (more of them at one instant than a page holds) are never read, so
// every token issued at or before that instant is refused until such a
// token has expired, as when the set overflows; later tokens pass.
func TestFollowerStuckPageFailsClosed(t *testing.T) {
	c := &clock{t0}
	at := t0.Add(-time.Second)
	src := &fakeSource{size: 1}
	for _, id := range []string{"a", "b", "c"} {
		src.entries = append(src.entries, revocation.Entry{JTI: id, RevokedAt: at, Expires: t0.Add(time.Hour)})
	}
	set := revocation.NewSet(revocation.SetOptions{Clock: c.Now})
	f := &revocation.Follower{Source: src, Set: set, Clock: c.Now}
	if err := f.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := set.Check("c", "", at.Add(-time.Minute)); got != revocation.Revoked {
		t.Errorf("token c, hidden behind the stuck page: %v, want Revoked", got)
	}
	if got := set.Check("z", "", at.Add(time.Millisecond)); got != revocation.Valid {
		t.Errorf("token issued after the stuck instant: %v, want Valid", got)
	}
	c.now = t0.Add(time.Hour + time.Minute)
	set.MarkSynced()
	if got := set.Check("c", "", at.Add(-time.Minute)); got != revocation.Valid {
		t.Errorf("an hour later (every such token expired): %v, want Valid", got)
	}
}
