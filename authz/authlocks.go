package authz

import (
	"context"
	"sync"
)

// authLocks runs the client authentications of one key (the address with
// the claimed client_id) one at a time in this process. The failure
// allowance is reserved for an attempt's duration (reserveClientAuth), so
// without it a burst of legitimate requests from one address (a fleet
// behind one NAT starting at once) would hold more reservations at once
// than the allowance has and be refused with 429; with it each key holds
// at most one reservation per instance, and attackers' concurrent guesses
// queue behind each other's outcome. An entry lives only while an attempt
// holds or waits for it, so the map is bounded by the requests in flight.
type authLocks struct {
	mu sync.Mutex
	m  map[string]*authLock
}

type authLock struct {
	ch      chan struct{} // one token: held by the running attempt
	waiters int           // attempts holding or waiting; the entry goes at 0
}

// lock waits for key's turn, or for ctx to end (the caller gone, or the
// request's deadline). The returned function gives the turn up.
func (l *authLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*authLock{}
	}
	e := l.m[key]
	if e == nil {
		e = &authLock{ch: make(chan struct{}, 1)}
		l.m[key] = e
	}
	e.waiters++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if e.waiters--; e.waiters == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
	select {
	case e.ch <- struct{}{}:
		return func() { <-e.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// size is the number of keys held or waited for (tests).
func (l *authLocks) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
