package main

import (
	"flag"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// latenessPacer is the pacer TestPacerLateness measures; -lateness-pacer
// sleep shows the test failing for the time.Sleep pacer:
//
//	go test -run TestPacerLateness -v ./bench/gatewayload -args -lateness-pacer sleep
var latenessPacer = flag.String("lateness-pacer", pacerPrecise, "pacer that TestPacerLateness measures (precise or sleep)")

// earlyTolerance is how early a slot may be released: the error of
// reading CLOCK_MONOTONIC next to time.Now (tens of nanoseconds).
const earlyTolerance = 20 * time.Microsecond

// consume takes every slot of a pacer on s with n goroutines and returns,
// per goroutine, the slots it took and how long after its scheduled time
// it had each.
func consume(t *testing.T, kind string, s *schedule, n int) (slots [][]int, late [][]time.Duration) {
	t.Helper()
	p := newPacer(kind, s)
	slots, late = make([][]int, n), make([][]time.Duration, n)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for {
				i, ok := p.next()
				if !ok {
					return
				}
				l := time.Since(s.at(i))
				slots[w] = append(slots[w], i)
				late[w] = append(late[w], l)
			}
		})
	}
	wg.Wait()
	if name := p.name(); !strings.HasPrefix(name, kind+" (") {
		t.Errorf("%s pacer calls itself %q", kind, name)
	}
	return slots, late
}

// One consumer has every slot once, in order, none before its time.
func TestPacerInOrder(t *testing.T) {
	for _, kind := range []string{pacerPrecise, pacerSleep} {
		t.Run(kind, func(t *testing.T) {
			s := &schedule{start: time.Now(), total: 1000, rate: 20_000}
			slots, late := consume(t, kind, s, 1)
			if len(slots[0]) != s.total {
				t.Fatalf("%d slots, want %d", len(slots[0]), s.total)
			}
			for k, i := range slots[0] {
				if i != k {
					t.Fatalf("slot %d released as number %d", i, k)
				}
				if late[0][k] < -earlyTolerance {
					t.Errorf("slot %d released %v early", i, -late[0][k])
				}
			}
		})
	}
}

// Many consumers (as the connections): every slot taken exactly once, by
// each consumer in increasing order, none before its time.
func TestPacerConcurrent(t *testing.T) {
	for _, kind := range []string{pacerPrecise, pacerSleep} {
		t.Run(kind, func(t *testing.T) {
			s := &schedule{start: time.Now(), total: 2000, rate: 20_000}
			slots, late := consume(t, kind, s, 8)
			var all []int
			for w := range slots {
				if !slices.IsSorted(slots[w]) {
					t.Errorf("consumer %d took slots out of order", w)
				}
				for k, l := range late[w] {
					if l < -earlyTolerance {
						t.Errorf("slot %d released %v early", slots[w][k], -l)
					}
				}
				all = append(all, slots[w]...)
			}
			slices.Sort(all)
			if len(all) != s.total {
				t.Fatalf("%d slots taken, want %d", len(all), s.total)
			}
			for k, i := range all {
				if i != k {
					t.Fatalf("slot %d missing or taken twice", k)
				}
			}
		})
	}
}

// A pacer that is behind (here: a schedule whose every slot is already
// due, more slots than the precise pacer's queue holds) releases them all
// at once, in order.
func TestPacerBehind(t *testing.T) {
	for _, kind := range []string{pacerPrecise, pacerSleep} {
		t.Run(kind, func(t *testing.T) {
			s := &schedule{start: time.Now().Add(-time.Second), total: precisePacerQueue + 1000, rate: 10_000}
			t0 := time.Now()
			slots, _ := consume(t, kind, s, 1)
			if d := time.Since(t0); d > 500*time.Millisecond {
				t.Errorf("%d overdue slots took %v to release", s.total, d)
			}
			if len(slots[0]) != s.total {
				t.Fatalf("%d slots, want %d", len(slots[0]), s.total)
			}
			for k, i := range slots[0] {
				if i != k {
					t.Fatalf("slot %d released as number %d", i, k)
				}
			}
		})
	}
}

// The precise pacer's slots are taken within 300 µs of their time at the
// median, 5000 slots/s for 0.3 s, 8 consumers doing nothing else (an idle
// runtime, where the time.Sleep pacer is about 0.5 ms late at the median:
// its sleeps end on a 1 ms netpoll timeout). A loaded machine can make
// one measurement late, so it is taken up to three times, and one under
// the bound passes.
func TestPacerLateness(t *testing.T) {
	const bound = 300 * time.Microsecond
	for attempt := 1; ; attempt++ {
		s := &schedule{start: time.Now(), total: 1500, rate: 5000}
		_, late := consume(t, *latenessPacer, s, 8)
		var all []time.Duration
		for _, l := range late {
			all = append(all, l...)
		}
		slices.Sort(all)
		p50 := pctOf(all, 0.5)
		t.Logf("%s pacer, attempt %d: %d slots late by p50 %v, p90 %v, p99 %v, max %v",
			*latenessPacer, attempt, len(all), p50, pctOf(all, 0.9), pctOf(all, 0.99), pctOf(all, 1))
		if len(all) != s.total {
			t.Fatalf("%d slots, want %d", len(all), s.total)
		}
		if p50 < bound {
			return
		}
		if attempt == 3 {
			t.Fatalf("%s pacer: median lateness %v in each of 3 attempts, want under %v", *latenessPacer, p50, bound)
		}
	}
}
