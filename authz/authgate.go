package authz

import (
	"context"
	"sync"

	"github.com/wardauth/ward/oauth"
)

// authGate admits the client authentications of one key (the address, and
// the address with the claimed client_id) while fewer attempts of that key
// are in flight in this process than its failure allowance has left.
// Were every one of them to fail, each would still find a failure to
// spend, so attempts sent at once cannot each spend the last one; an
// attempt beyond that waits for one in flight to end and looks again.
// A success writes nothing to the rate-limit store (a look before, a take
// only on failure), and a burst of correct authentications larger than the
// allowance queues briefly instead of being refused. Entries live only
// while an attempt holds or waits for them.
type authGate struct {
	mu sync.Mutex
	m  map[string]*gateEntry
}

type gateEntry struct {
	inflight int           // attempts admitted and not ended
	users    int           // attempts admitted or waiting; the entry goes at 0
	changed  chan struct{} // closed (and replaced) when an attempt ends
}

// remainingFunc reports, per key, how many failures the allowance has
// left; an error refuses the attempt (429 when one is spent, 503 when the
// store cannot answer).
type remainingFunc func() ([]int, error)

// enter admits an attempt of keys, or returns remaining's refusal, or
// ctx's error while it waited. The returned function ends the attempt.
func (g *authGate) enter(ctx context.Context, keys []string, remaining remainingFunc) (func(), error) {
	es := g.join(keys)
	for {
		rem, err := remaining()
		if err != nil {
			g.leave(keys, es, false)
			return nil, err
		}
		wait := g.admit(es, rem)
		if wait == nil {
			return func() { g.leave(keys, es, true) }, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			g.leave(keys, es, false)
			return nil, oauth.Wrap(ctx.Err(), "client authentication was not attempted")
		}
	}
}

// join registers an attempt with the entries of keys.
func (g *authGate) join(keys []string) []*gateEntry {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]*gateEntry{}
	}
	es := make([]*gateEntry, len(keys))
	for i, k := range keys {
		e := g.m[k]
		if e == nil {
			e = &gateEntry{changed: make(chan struct{})}
			g.m[k] = e
		}
		e.users++
		es[i] = e
	}
	return es
}

// admit counts the attempt in flight when every key has more failures
// left than attempts in flight; otherwise it returns the channel to wait
// on for one of them to end.
func (g *authGate) admit(es []*gateEntry, rem []int) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, e := range es {
		if e.inflight >= rem[i] {
			return e.changed
		}
	}
	for _, e := range es {
		e.inflight++
	}
	return nil
}

// leave ends an attempt (admitted: it was in flight) and drops entries no
// attempt uses any more.
func (g *authGate) leave(keys []string, es []*gateEntry, admitted bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, e := range es {
		if admitted {
			e.inflight--
			close(e.changed)
			e.changed = make(chan struct{})
		}
		if e.users--; e.users == 0 {
			delete(g.m, keys[i])
		}
	}
}

// size is the number of keys in use (tests).
func (g *authGate) size() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m)
}
