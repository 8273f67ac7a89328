package secevent

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestEmitOnce: a flood of one (type, key) queues one event a period;
// another key gets its own; past OnceBurst keys a second, the type's
// bucket holds the rest back, so a flood from many keys cannot fill the
// queue either.
func TestEmitOnce(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := NewEmitter(Options{Queue: 100_000, Clock: clock, Instance: "t"})
	for range 1000 {
		e.EmitOnce("ip\x00192.0.2.1", Event{Type: RateLimited})
	}
	e.EmitOnce("ip\x00192.0.2.2", Event{Type: RateLimited})
	if n := len(e.q); n != 2 {
		t.Fatalf("%d events queued, want one per key", n)
	}
	mu.Lock()
	now = now.Add(OncePeriod)
	mu.Unlock()
	e.EmitOnce("ip\x00192.0.2.1", Event{Type: RateLimited})
	if n := len(e.q); n != 3 {
		t.Fatalf("%d events queued, want a second one after the period", n)
	}
	for i := range 10_000 {
		e.EmitOnce("ip\x00"+strconv.Itoa(i), Event{Type: RateLimited})
	}
	if n := len(e.q); n > OnceBurst+3 {
		t.Fatalf("%d events queued by 10 000 keys at once, want at most %d", n, OnceBurst+3)
	}
	var nilEmitter *Emitter
	nilEmitter.EmitOnce("k", Event{Type: RateLimited}) // no panic
}
