package revocation_test

import (
	"testing"
	"time"

	"github.com/wardauth/ward/revocation"
)

var t0 = time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newSet(c *clock, o revocation.SetOptions) *revocation.Set {
	o.Clock = c.Now
	s := revocation.NewSet(o)
	s.MarkSynced()
	return s
}

// TestSetCheck: a jti or a grant in the set is revoked until its expiry
// plus the leeway; other tokens are valid.
func TestSetCheck(t *testing.T) {
	c := &clock{t0}
	s := newSet(c, revocation.SetOptions{Leeway: 10 * time.Second, StaleAfter: time.Hour})
	s.Add([]revocation.Entry{
		{JTI: "j1", RevokedAt: t0, Expires: t0.Add(time.Minute)},
		{GrantID: "g1", RevokedAt: t0, Expires: t0.Add(time.Hour)},
	})
	for _, tc := range []struct {
		jti, grant string
		want       revocation.Status
	}{
		{"j1", "", revocation.Revoked},
		{"j1", "g2", revocation.Revoked},
		{"j2", "g1", revocation.Revoked},
		{"j2", "g2", revocation.Valid},
		{"j2", "", revocation.Valid},
		{"g1", "", revocation.Valid}, // a grant id is no jti
	} {
		if got := s.Check(tc.jti, tc.grant, t0); got != tc.want {
			t.Errorf("Check(%q, %q) = %v, want %v", tc.jti, tc.grant, got, tc.want)
		}
	}
	c.now = t0.Add(time.Minute + 9*time.Second)
	s.MarkSynced()
	if s.Check("j1", "", t0) != revocation.Revoked {
		t.Error("j1 dropped within the leeway after its exp")
	}
	c.now = t0.Add(time.Minute + 11*time.Second)
	s.MarkSynced()
	if s.Check("j1", "", t0) != revocation.Valid {
		t.Error("j1 still revoked past its exp and the leeway")
	}
	s.Prune()
	if s.Len() != 1 {
		t.Errorf("after Prune: %d entries, want 1 (g1)", s.Len())
	}
}

// TestSetStale: a set that never synced, or not within StaleAfter, says
// Stale for every token (fail closed) unless ServeStale.
func TestSetStale(t *testing.T) {
	c := &clock{t0}
	s := revocation.NewSet(revocation.SetOptions{Clock: c.Now, StaleAfter: 30 * time.Second})
	if got := s.Check("j", "", t0); got != revocation.Stale {
		t.Fatalf("never synced: %v, want Stale", got)
	}
	s.MarkSynced()
	c.now = t0.Add(30 * time.Second)
	if got := s.Check("j", "", t0); got != revocation.Valid {
		t.Fatalf("synced 30s ago: %v, want Valid", got)
	}
	c.now = t0.Add(31 * time.Second)
	if got := s.Check("j", "", t0); got != revocation.Stale {
		t.Fatalf("synced 31s ago: %v, want Stale", got)
	}
	if stale, last := s.Stale(); !stale || !last.Equal(t0) {
		t.Fatalf("Stale() = %v, %v", stale, last)
	}
	lax := revocation.NewSet(revocation.SetOptions{Clock: c.Now, ServeStale: true})
	lax.Add([]revocation.Entry{{JTI: "j", RevokedAt: t0, Expires: t0.Add(time.Hour)}})
	if lax.Check("j", "", t0) != revocation.Revoked || lax.Check("k", "", t0) != revocation.Valid {
		t.Fatal("ServeStale must answer from the entries held")
	}
}

// TestSetOverflow: a full set does not grow; a revocation that does not
// fit refuses every token issued at or before it (fail closed for the
// affected tokens only) until its tokens have expired. Expired entries
// make room first.
func TestSetOverflow(t *testing.T) {
	c := &clock{t0}
	s := newSet(c, revocation.SetOptions{MaxEntries: 2, Leeway: time.Second, StaleAfter: 24 * time.Hour})
	if n := s.Add([]revocation.Entry{
		{JTI: "a", RevokedAt: t0, Expires: t0.Add(time.Minute)},
		{JTI: "b", RevokedAt: t0, Expires: t0.Add(time.Hour)},
	}); n != 0 {
		t.Fatalf("overflow %d filling the set", n)
	}
	at := t0.Add(10 * time.Second)
	if n := s.Add([]revocation.Entry{{JTI: "c", RevokedAt: at, Expires: at.Add(time.Hour)}}); n != 1 {
		t.Fatalf("overflow = %d, want 1", n)
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2", s.Len())
	}
	if got := s.Check("c", "", at.Add(-time.Minute)); got != revocation.Revoked {
		t.Errorf("c, issued before the overflow: %v, want Revoked", got)
	}
	if got := s.Check("x", "", at); got != revocation.Revoked {
		t.Errorf("any token issued at the overflow: %v, want Revoked", got)
	}
	if got := s.Check("y", "", at.Add(time.Second)); got != revocation.Valid {
		t.Errorf("a token issued after the overflow: %v, want Valid", got)
	}
	c.now = at.Add(time.Hour + 2*time.Second)
	s.MarkSynced()
	if got := s.Check("x", "", at); got != revocation.Valid {
		t.Errorf("after the overflowed entry expired: %v, want Valid", got)
	}
	// a expired: room for d.
	if n := s.Add([]revocation.Entry{{GrantID: "d", RevokedAt: c.now, Expires: c.now.Add(time.Hour)}}); n != 0 {
		t.Fatalf("overflow %d with expired entries to drop", n)
	}
}

// TestSetCheckAllocs: the check on every request allocates nothing.
func TestSetCheckAllocs(t *testing.T) {
	c := &clock{t0}
	s := newSet(c, revocation.SetOptions{StaleAfter: time.Hour})
	s.Add([]revocation.Entry{{JTI: "j1", RevokedAt: t0, Expires: t0.Add(time.Hour)}, {GrantID: "g1", RevokedAt: t0, Expires: t0.Add(time.Hour)}})
	if n := testing.AllocsPerRun(100, func() { s.Check("j2", "g2", t0) }); n != 0 {
		t.Fatalf("Check allocates %v times", n)
	}
}

func BenchmarkSetCheck(b *testing.B) {
	s := revocation.NewSet(revocation.SetOptions{StaleAfter: time.Hour})
	s.MarkSynced()
	var es []revocation.Entry
	now := time.Now()
	for i := range 100_000 {
		es = append(es, revocation.Entry{JTI: "jti-" + string(rune('a'+i%26)) + time.Duration(i).String(), RevokedAt: now, Expires: now.Add(time.Hour)})
	}
	s.Add(es)
	b.ReportAllocs()
	for b.Loop() {
		s.Check("absent-jti-0123456789", "absent-grant", now)
	}
}
