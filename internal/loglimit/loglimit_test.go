package loglimit

import (
	"fmt"
	"testing"
	"time"
)

// TestBurstThenRate: burst lines at once, then perSecond a second; the
// next line allowed reports how many were dropped; another reason has its
// own bucket.
func TestBurstThenRate(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(2, 3, func() time.Time { return now })
	allowed := 0
	for range 100 {
		if ok, _ := l.Allow("replayed"); ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("burst: %d lines allowed of 100, want 3", allowed)
	}
	if ok, _ := l.Allow("wrong_password"); !ok {
		t.Fatal("another reason shares the flooded bucket")
	}
	now = now.Add(500 * time.Millisecond) // one token at 2/s
	ok, dropped := l.Allow("replayed")
	if !ok || dropped != 97 {
		t.Fatalf("after 0.5 s: ok=%v suppressed=%d, want true 97", ok, dropped)
	}
	if ok, _ := l.Allow("replayed"); ok {
		t.Fatal("a second line within the same half second")
	}
	now = now.Add(time.Hour)
	allowed = 0
	for range 10 {
		if ok, _ := l.Allow("replayed"); ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("after an hour: %d allowed, want the burst of 3 (tokens capped)", allowed)
	}
}

// TestBoundedReasons: past MaxReasons, new reasons share one bucket.
func TestBoundedReasons(t *testing.T) {
	l := New(1, 1, nil)
	for i := range MaxReasons + 1000 {
		l.Allow(fmt.Sprint(i))
	}
	if n := len(l.buckets); n != MaxReasons+1 {
		t.Fatalf("%d buckets, want %d", n, MaxReasons+1)
	}
}

func Example() {
	l := New(1, 2, nil)
	for i := range 4 {
		ok, _ := l.Allow("replayed")
		fmt.Println(i, ok)
	}
	// Output:
	// 0 true
	// 1 true
	// 2 false
	// 3 false
}
