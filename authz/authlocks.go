package authz

import (
	"context"
	"sync"
)

// authLocks runs the attempts of one key one at a time in this process:
// the login attempts of one account (login.go), so concurrent guesses each
// see the failures before them. An entry lives only while an attempt holds
// or waits for it, so the map is bounded by the requests in flight.
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
