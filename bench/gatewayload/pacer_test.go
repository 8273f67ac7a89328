package main

import (
	"flag"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// latenessPacer is the pacer TestPacerLateness measures; with a bound,
// -lateness-pacer sleep shows the test failing for the time.Sleep pacer:
//
//	go test -run TestPacerLateness -v ./bench/gatewayload -args -lateness-pacer sleep -lateness-bound 300us
var latenessPacer = flag.String("lateness-pacer", pacerPrecise, "pacer that TestPacerLateness measures (precise or sleep)")

// latenessBound, when set, makes TestPacerLateness fail above it (by hand,
// on an idle machine: go test ./bench/gatewayload -run PacerLateness -v -args -lateness-bound 300us).
var latenessBound = flag.Duration("lateness-bound", 0, "median lateness above which TestPacerLateness fails (0: only log it)")

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
			// 100 slots/s: paced one by one from now they would take
			// 51 s; released at once, milliseconds (10 s allows for a
			// loaded machine and the race detector).
			s := &schedule{start: time.Now().Add(-2 * time.Minute), total: precisePacerQueue + 1000, rate: 100}
			t0 := time.Now()
			slots, _ := consume(t, kind, s, 1)
			if d := time.Since(t0); d > 10*time.Second {
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

// TestPacerLateness measures how late the pacer's slots are taken, 5000
// slots/s for 0.3 s, 8 consumers doing nothing else, and logs it. It
// asserts only when asked (-lateness-bound, e.g. 300µs, on an idle
// machine, where the precise pacer is 40–80 µs late at the median and the
// time.Sleep pacer about 0.5 ms: its sleeps end on a 1 ms netpoll
// timeout): a timing bound in the normal test run would fail whenever the
// machine is busy (go test ./... runs packages side by side), so the
// normal run checks only that every slot arrives.
func TestPacerLateness(t *testing.T) {
	s := &schedule{start: time.Now(), total: 1500, rate: 5000}
	_, late := consume(t, *latenessPacer, s, 8)
	var all []time.Duration
	for _, l := range late {
		all = append(all, l...)
	}
	slices.Sort(all)
	p50 := pctOf(all, 0.5)
	t.Logf("%s pacer: %d slots late by p50 %v, p90 %v, p99 %v, max %v",
		*latenessPacer, len(all), p50, pctOf(all, 0.9), pctOf(all, 0.99), pctOf(all, 1))
	if len(all) != s.total {
		t.Fatalf("%d slots, want %d", len(all), s.total)
	}
	if *latenessBound > 0 && p50 >= *latenessBound {
		t.Fatalf("%s pacer: median lateness %v, want under %v", *latenessPacer, p50, *latenessBound)
	}
}
