package main

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Pacing the raw client's open loop: when each slot of the schedule is
// released to a connection.
//
// Go's timers are coarse when the runtime is idle: a thread with nothing
// to run waits for the next timer in netpoll (epoll_wait), whose timeout
// is in whole milliseconds, rounded up (runtime/netpoll_epoll.go), so
// time.Sleep schedules a few hundred microseconds apart start late by
// about half a millisecond on average and go out in clumps about 1 ms
// apart. That lateness is in every latency the open loop measures, the
// gateway's and the bare upstream's alike.
//
// The precise pacer sleeps in the kernel instead: one goroutine locked to
// its OS thread sleeps until each slot's absolute time with
// clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) (the thread's timer
// slack set to 1 ns, so the kernel does not defer the wake-up by its
// default 50 µs), then hands the slot to a free connection goroutine over
// a buffered channel. It never spins: between slots its thread is asleep
// in the kernel. A slot whose time has passed (the pacer's thread woke
// late, or waited on a full queue) is released at once. On a 2-vCPU VM
// an idle connection goroutine had its slot about 60 µs after the slot's
// time at the median (the thread's wake-up about 25 µs, waking the
// goroutine the rest), against about 530 µs with time.Sleep
// (TestPacerLateness).

// pacer names, as the -pacer flag takes them.
const (
	pacerPrecise = "precise"
	pacerSleep   = "sleep"
)

// schedule is an open loop's schedule: total slots, slot i due at
// start + i/rate.
type schedule struct {
	start time.Time
	total int
	rate  float64 // slots per second
}

// offset is slot i's time from the start.
func (s *schedule) offset(i int) time.Duration {
	return time.Duration(float64(i) * float64(time.Second) / s.rate)
}

// at is slot i's scheduled time.
func (s *schedule) at(i int) time.Time { return s.start.Add(s.offset(i)) }

// A pacer releases the slots of a schedule, each exactly once, none
// before its time.
type pacer interface {
	// next waits until a slot is due and returns it; false when the
	// schedule is done. Safe for concurrent use.
	next() (slot int, ok bool)
	// name says how the slots were paced; read it after the schedule is
	// done.
	name() string
}

// newPacer starts a pacer of kind (pacerPrecise or pacerSleep) on s.
func newPacer(kind string, s *schedule) pacer {
	if kind == pacerSleep {
		return &sleepPacer{s: s}
	}
	return startPrecisePacer(s)
}

// sleepPacer is the time.Sleep pacer: each caller of next claims the next
// slot and sleeps in its own goroutine until the slot's time.
type sleepPacer struct {
	s    *schedule
	used atomic.Int64
}

func (p *sleepPacer) next() (int, bool) {
	i := int(p.used.Add(1) - 1)
	if i >= p.s.total {
		return 0, false
	}
	if w := time.Until(p.s.at(i)); w > 0 {
		time.Sleep(w)
	}
	return i, true
}

func (p *sleepPacer) name() string { return "sleep (time.Sleep in each connection's goroutine)" }

// precisePacerQueue bounds the slots released but not yet taken by a
// connection; when it is full the pacer waits, and releases what fell due
// meanwhile at once.
const precisePacerQueue = 4096

// precisePacer releases slots from one goroutine locked to its OS thread,
// sleeping with clock_nanosleep until each slot's absolute time.
type precisePacer struct {
	slots chan int
	// Set by the pacer goroutine before it closes slots.
	slackErr error // setting the timer slack failed (the default stays)
	sleepErr error // clock_nanosleep failed: time.Sleep from errSlot on
	errSlot  int
}

func startPrecisePacer(s *schedule) *precisePacer {
	p := &precisePacer{slots: make(chan int, min(max(s.total, 1), precisePacerQueue))}
	base, err := monotonicAt(s.start)
	if err != nil {
		p.sleepErr = err
	}
	go p.run(s, base)
	return p
}

// monotonicAt is CLOCK_MONOTONIC, in nanoseconds, at t. CLOCK_MONOTONIC
// is the clock of time.Time's monotonic readings (on Linux), but their
// origin is the runtime's own; so CLOCK_MONOTONIC is read on each side of
// a time.Now, and the middle of the two readings taken as that time.Now's
// (of a few tries, the closest pair: a thread preempted between two
// readings gives a pair far apart).
func monotonicAt(t time.Time) (int64, error) {
	best, gap := int64(0), int64(-1)
	for range 5 {
		var a, b unix.Timespec
		errA := unix.ClockGettime(unix.CLOCK_MONOTONIC, &a)
		now := time.Now()
		errB := unix.ClockGettime(unix.CLOCK_MONOTONIC, &b)
		if err := errors.Join(errA, errB); err != nil {
			return 0, fmt.Errorf("clock_gettime: %w", err)
		}
		if g := b.Nano() - a.Nano(); gap < 0 || g < gap {
			best, gap = (a.Nano()+b.Nano())/2-int64(now.Sub(t)), g
		}
		if gap < 1000 {
			break
		}
	}
	return best, nil
}

// run releases every slot of s in order; base is CLOCK_MONOTONIC at
// s.start, in nanoseconds.
func (p *precisePacer) run(s *schedule, base int64) {
	// The goroutine keeps its thread to the end, so the thread, whose
	// timer slack is changed, exits with it instead of going back to the
	// runtime's pool.
	runtime.LockOSThread()
	defer close(p.slots)
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0); err != nil {
		p.slackErr = err
	}
	for i := range s.total {
		off := s.offset(i)
		if p.sleepErr == nil && time.Since(s.start) < off {
			ts := unix.NsecToTimespec(base + int64(off))
			for {
				err := unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil)
				if err == unix.EINTR {
					continue // a signal (the runtime's preemption): sleep again to the same time
				}
				if err != nil {
					p.sleepErr, p.errSlot = fmt.Errorf("clock_nanosleep: %w", err), i
				}
				break
			}
		}
		if p.sleepErr != nil {
			if w := time.Until(s.at(i)); w > 0 {
				time.Sleep(w)
			}
		}
		p.slots <- i
	}
}

func (p *precisePacer) next() (int, bool) {
	i, ok := <-p.slots
	return i, ok
}

func (p *precisePacer) name() string {
	n := "precise (clock_nanosleep on a locked OS thread, timer slack 1 ns)"
	if p.slackErr != nil {
		n = fmt.Sprintf("precise (clock_nanosleep on a locked OS thread; timer slack left at its default: %v)", p.slackErr)
	}
	if p.sleepErr != nil {
		n += fmt.Sprintf(", then time.Sleep from slot %d on after an error: %v", p.errSlot, p.sleepErr)
	}
	return n
}
