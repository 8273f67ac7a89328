package block

import (
	"testing"
	"time"

	"github.com/wardauth/ward/internal/wardtest"
)

var testPolicy = Policy{Threshold: 3, Window: time.Minute, Period: time.Minute, MaxPeriod: 4 * time.Minute}

// t0 is a fixed start: the stores take the time from the caller.
var t0 = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

func newRedisStore(t testing.TB) *RedisStore {
	_, c, prefix := wardtest.Redis(t, "block")
	return NewRedisStore(c, RedisConfig{Prefix: prefix})
}

func TestMemoryStoreConformance(t *testing.T) {
	runConformance(t, func(t *testing.T) Store { return NewMemoryStore(0) })
}

func TestRedisStoreConformance(t *testing.T) {
	runConformance(t, func(t *testing.T) Store { return newRedisStore(t) })
}

// strikes strikes (kind, value) n times at now and returns the last answer.
func strikes(t *testing.T, s Store, kind Kind, value string, now time.Time, n int) (Block, bool) {
	t.Helper()
	var blk Block
	var started bool
	for range n {
		var err error
		if blk, started, err = s.Strike(t.Context(), kind, value, now, testPolicy); err != nil {
			t.Fatal(err)
		}
	}
	return blk, started
}

func blockedAt(t *testing.T, s Store, kind Kind, value string, now time.Time) bool {
	t.Helper()
	until, err := s.Check(t.Context(), kind, value, now)
	if err != nil {
		t.Fatal(err)
	}
	return !until.IsZero()
}

func runConformance(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("ThresholdWithinWindow", func(t *testing.T) {
		s := newStore(t)
		if _, started := strikes(t, s, Address, "192.0.2.1", t0, 2); started || blockedAt(t, s, Address, "192.0.2.1", t0) {
			t.Fatal("blocked below the threshold")
		}
		blk, started := strikes(t, s, Address, "192.0.2.1", t0.Add(time.Second), 1)
		if !started || !blk.Until.Equal(t0.Add(time.Second+time.Minute)) || blk.Offences != 1 {
			t.Fatalf("third strike: %+v %v, want a 1m block", blk, started)
		}
		if !blockedAt(t, s, Address, "192.0.2.1", t0.Add(time.Minute)) {
			t.Fatal("not blocked during the period")
		}
		if blockedAt(t, s, Key, "192.0.2.1", t0.Add(time.Minute)) || blockedAt(t, s, Address, "192.0.2.2", t0.Add(time.Minute)) {
			t.Fatal("another kind or value blocked")
		}
		if blockedAt(t, s, Address, "192.0.2.1", t0.Add(time.Second+time.Minute)) {
			t.Fatal("the block did not expire")
		}
	})
	t.Run("WindowForgets", func(t *testing.T) {
		s := newStore(t)
		// Two strikes a window, for ten windows: never three in one.
		for i := range 10 {
			now := t0.Add(time.Duration(i) * (time.Minute + time.Second))
			if _, started := strikes(t, s, Address, "192.0.2.1", now, 2); started {
				t.Fatalf("window %d: blocked", i)
			}
		}
	})
	t.Run("PeriodDoublesCapped", func(t *testing.T) {
		s := newStore(t)
		now := t0
		for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute} {
			blk, started := strikes(t, s, Key, "jkt", now, 3)
			if !started || blk.Until.Sub(now) != want || blk.Offences != i+1 {
				t.Fatalf("offence %d: %+v %v, want %v", i+1, blk, started, want)
			}
			now = blk.Until // right after the block ends
		}
	})
	t.Run("OffencesForgotten", func(t *testing.T) {
		s := newStore(t)
		blk, _ := strikes(t, s, Key, "jkt", t0, 3)
		later := blk.Until.Add(testPolicy.MaxPeriod + time.Second)
		blk, started := strikes(t, s, Key, "jkt", later, 3)
		if !started || blk.Offences != 1 || blk.Until.Sub(later) != time.Minute {
			t.Fatalf("after MaxPeriod: %+v %v, want a first offence again", blk, started)
		}
	})
	t.Run("StrikesWhileBlockedChangeNothing", func(t *testing.T) {
		s := newStore(t)
		blk, _ := strikes(t, s, Address, "192.0.2.9", t0, 3)
		if _, started := strikes(t, s, Address, "192.0.2.9", t0.Add(time.Second), 50); started {
			t.Fatal("a strike while blocked started a block")
		}
		until, _ := s.Check(t.Context(), Address, "192.0.2.9", t0.Add(time.Second))
		if !until.Equal(blk.Until) {
			t.Fatalf("until %v, want %v (not extended)", until, blk.Until)
		}
	})
	t.Run("ListAndLift", func(t *testing.T) {
		s := newStore(t)
		strikes(t, s, Address, "192.0.2.1", t0, 3)
		strikes(t, s, Key, "jkt", t0.Add(time.Second), 3)
		strikes(t, s, Address, "192.0.2.2", t0, 2) // not blocked
		bs, err := s.List(t.Context(), t0.Add(2*time.Second))
		if err != nil || len(bs) != 2 || bs[0].Kind != Key || bs[1].Value != "192.0.2.1" || bs[1].Offences != 1 {
			t.Fatalf("List: %+v %v", bs, err)
		}
		lifted, err := s.Lift(t.Context(), Address, "192.0.2.1", t0.Add(2*time.Second))
		if err != nil || !lifted || blockedAt(t, s, Address, "192.0.2.1", t0.Add(2*time.Second)) {
			t.Fatalf("Lift: %v %v", lifted, err)
		}
		if lifted, err := s.Lift(t.Context(), Address, "192.0.2.1", t0); err != nil || lifted {
			t.Fatalf("Lift again: %v %v, want false, nil", lifted, err)
		}
		if bs, _ := s.List(t.Context(), t0.Add(2*time.Second)); len(bs) != 1 || bs[0].Kind != Key {
			t.Fatalf("List after Lift: %+v", bs)
		}
		// Lifting forgets the offences: the next block is a first one.
		blk, _ := strikes(t, s, Address, "192.0.2.1", t0.Add(3*time.Second), 3)
		if blk.Offences != 1 {
			t.Fatalf("after Lift: offence %d, want 1", blk.Offences)
		}
		if bs, _ := s.List(t.Context(), t0.Add(time.Hour)); len(bs) != 0 {
			t.Fatalf("List after every block ended: %+v", bs)
		}
	})
	t.Run("InvalidValues", func(t *testing.T) {
		s := newStore(t)
		for _, kv := range []struct {
			k Kind
			v string
		}{{"user", "x"}, {Address, ""}, {Key, string(make([]byte, MaxValue+1))}} {
			if _, _, err := s.Strike(t.Context(), kv.k, kv.v, t0, testPolicy); err == nil {
				t.Errorf("Strike(%q, %d bytes) accepted", kv.k, len(kv.v))
			}
			if _, err := s.Lift(t.Context(), kv.k, kv.v, t0); err == nil {
				t.Errorf("Lift(%q, %d bytes) accepted", kv.k, len(kv.v))
			}
		}
	})
}
