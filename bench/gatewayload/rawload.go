package main

import (
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"
)

// rawDeadlineGrace is how long after a phase's planned end its
// connections stop waiting for answers.
const rawDeadlineGrace = 30 * time.Second

// dialRaw opens n×len(reqs.addrs) connections: for each of n workers one
// to each target. Dialing is done before the phase, outside what it
// measures.
func dialRaw(reqs *rawRequests, n int, d time.Duration) [][]*rawConn {
	deadline := time.Now().Add(d + rawDeadlineGrace)
	conns := make([][]*rawConn, n)
	for w := range conns {
		for _, a := range reqs.addrs {
			rc := &rawConn{addr: a, deadline: deadline}
			if err := rc.dial(); err != nil {
				log.Fatalf("raw client: %v", err)
			}
			conns[w] = append(conns[w], rc)
		}
	}
	return conns
}

func closeRaw(conns [][]*rawConn) {
	for _, cs := range conns {
		for _, rc := range cs {
			rc.close()
		}
	}
}

// tally counts a phase's answers and keeps the first failure's reason.
type tally struct {
	ok, failed atomic.Int64
	once       sync.Once
	first      string
}

func (t *tally) add(err error) {
	if err == nil {
		t.ok.Add(1)
		return
	}
	t.failed.Add(1)
	t.once.Do(func() { t.first = err.Error() })
}

func (t *tally) out(lat, late [][]time.Duration) phaseOut {
	return phaseOut{ok: t.ok.Load(), failed: t.failed.Load(), firstErr: t.first, lat: flatten(lat), late: flatten(late)}
}

// rawClosedLoop is closedLoop with the raw client: workers connections
// (to each target), one goroutine each, each request sent as soon as the
// previous answer is read, for d or until the requests run out.
func rawClosedLoop(name string, reqs *rawRequests, workers int, d time.Duration, procs map[string][]int) *result {
	conns := dialRaw(reqs, workers, d)
	defer closeRaw(conns)
	return runPhase(name, procs, func() phaseOut {
		var next atomic.Int64
		var t tally
		lats := make([][]time.Duration, workers)
		deadline := time.Now().Add(d)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if !reqs.reuse && i >= reqs.n() {
						return
					}
					req, target := reqs.get(i)
					t0 := time.Now()
					err := conns[w][target].do(req)
					t1 := time.Now()
					lats[w] = append(lats[w], t1.Sub(t0))
					t.add(err)
					if t1.After(deadline) {
						return
					}
				}
			})
		}
		wg.Wait()
		return t.out(lats, nil)
	})
}

// rawOpenLoop is openLoop with the raw client: a fixed schedule at rate
// for d, sent over conns connections (to each target), paced by a pacer
// of kind pacerKind (pacer.go). There is no dispatcher goroutine between
// the pacer and the connections: a worker whose connection is free takes
// the next slot the pacer releases (with the sleep pacer: claims the next
// slot and sleeps until its time), so a slot that finds every connection
// busy waits for the first to free up, and that wait (like any lateness
// of the pacer) is in its latency, which runs from the scheduled time.
// The result's pacer says how the slots were paced.
func rawOpenLoop(name string, reqs *rawRequests, conns int, rate float64, d time.Duration, pacerKind string, procs map[string][]int) *result {
	cs := dialRaw(reqs, conns, d)
	defer closeRaw(cs)
	var p pacer
	r := runPhase(name, procs, func() phaseOut {
		total := int(rate * d.Seconds())
		if !reqs.reuse {
			total = min(total, reqs.n())
		}
		var t tally
		lats, lates := make([][]time.Duration, conns), make([][]time.Duration, conns)
		s := &schedule{start: time.Now(), total: total, rate: rate}
		p = newPacer(pacerKind, s)
		var wg sync.WaitGroup
		for w := range conns {
			wg.Go(func() {
				for {
					i, ok := p.next()
					if !ok {
						return
					}
					at := s.at(i)
					req, target := reqs.get(i)
					t0 := time.Now()
					err := cs[w][target].do(req)
					t1 := time.Now()
					lats[w] = append(lats[w], t1.Sub(at))
					lates[w] = append(lates[w], t0.Sub(at))
					t.add(err)
				}
			})
		}
		wg.Wait()
		return t.out(lats, lates)
	})
	r.pacer = p.name()
	return r
}

// mustRawRequests is newRawRequests, fatal on error.
func mustRawRequests(urls []string, token string, proofs []string, reuse bool) *rawRequests {
	r, err := newRawRequests(urls, token, proofs, reuse)
	if err != nil {
		log.Fatalf("raw client: %v", err)
	}
	return r
}

// rawCheck sends one request with the raw client to each of urls (a fresh
// proof each from proof) and requires a 200.
func rawCheck(urls []string, token string, proof func() string) {
	for _, u := range urls {
		reqs := mustRawRequests([]string{u}, token, []string{proof()}, false)
		rc := &rawConn{addr: reqs.addrs[0], deadline: time.Now().Add(10 * time.Second)}
		req, _ := reqs.get(0)
		err := rc.do(req)
		rc.close()
		if err != nil {
			log.Fatal(fmt.Errorf("raw client check of %s: %w", u, err))
		}
	}
}
