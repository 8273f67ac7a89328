package secevent

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A full queue drops and counts; Emit never waits for a slow sink.
func TestEmitNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	reg := prometheus.NewRegistry()
	e := NewEmitter(Options{Queue: 4, Batch: 1, Registry: reg,
		Sinks: []Sink{SinkFunc(func(context.Context, []Event) error { <-release; return nil })}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	start := time.Now()
	for range 100 {
		e.Emit(Event{Type: LoginFailed})
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("100 Emits with a stuck sink took %s", took)
	}
	// One event in the worker, four queued: at least 95 dropped.
	if d := e.Dropped(); d < 95 {
		t.Errorf("Dropped() = %d, want >= 95", d)
	}
	if got := counter(t, reg, "ward_security_events_dropped_total"); got != float64(e.Dropped()) {
		t.Errorf("ward_security_events_dropped_total = %v, want %d", got, e.Dropped())
	}
	close(release)
	cancel()
	<-done
}

// Events reach every sink in order, filled and sanitized; those queued at
// shutdown are flushed.
func TestEmitterDelivers(t *testing.T) {
	var mu sync.Mutex
	var got []Event
	sink := SinkFunc(func(_ context.Context, evs []Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, evs...)
		return nil
	})
	at := time.Unix(1700000000, 0)
	e := NewEmitter(Options{Sinks: []Sink{sink}, Instance: "i1", Clock: func() time.Time { return at }})
	for i := range 10 {
		e.Emit(Event{Type: CodeReplayed, ClientID: string(rune('a' + i))})
	}
	e.Emit(Event{Type: TokenLeaked, Reason: "eyJa.eyJb.c"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run flushes what is queued
	if err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(got) != 11 {
		t.Fatalf("got %d events, want 11", len(got))
	}
	for i, ev := range got[:10] {
		if ev.ClientID != string(rune('a'+i)) || ev.Instance != "i1" || !ev.Time.Equal(at) || ev.Severity != Critical {
			t.Errorf("event %d = %+v", i, ev)
		}
	}
	if got[10].Reason != Redacted {
		t.Errorf("a JWT reached a sink: %q", got[10].Reason)
	}
}

func TestNilEmitter(t *testing.T) {
	var e *Emitter
	e.Emit(Event{Type: TokenLeaked}) // no panic
	if e.Dropped() != 0 {
		t.Error("a nil Emitter dropped events")
	}
}

func TestEveryTypeHasASeverity(t *testing.T) {
	seen := map[Type]bool{}
	for _, ty := range Types {
		if seen[ty] {
			t.Errorf("%s twice in Types", ty)
		}
		seen[ty] = true
		if s := ty.Severity(); s != Info && s != Warning && s != Critical {
			t.Errorf("%s: severity %q", ty, s)
		}
	}
	if len(Types) != 18 {
		t.Errorf("%d types, want the 15 of issue 20 and the 3 of blocking", len(Types))
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// Run writes on a context the shutdown does not cancel: an event taken
// from the queue as the server stops still reaches a store that checks
// its context.
func TestRunWritesOnLiveContext(t *testing.T) {
	var live, dead int
	e := NewEmitter(Options{Sinks: []Sink{SinkFunc(func(ctx context.Context, evs []Event) error {
		if ctx.Err() != nil {
			dead += len(evs)
		} else {
			live += len(evs)
		}
		return nil
	})}})
	for range 50 {
		e.Emit(Event{Type: TokenLeaked})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = e.Run(ctx)
	if live != 50 || dead != 0 {
		t.Errorf("%d events written on a live context, %d on a cancelled one", live, dead)
	}
}
