package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
)

// Outage is a store whose backing service the suite can take away: Cut
// refuses new connections and drops open ones; Blackhole keeps them open
// and forwards nothing (a silent partition), so that only the store's own
// deadline ends a call. Restore brings the service back. The store's
// deadline should be short (a few hundred milliseconds): every call in a
// black hole waits for it.
type Outage struct {
	Store     store.Store
	Cut       func()
	Blackhole func()
	Restore   func()
}

// RunUnavailable checks that a store reports an outage of its backing
// service as store.ErrUnavailable (wrapping the cause), whatever the
// shape of the call (a one-row read, a list, a write, a transaction), and
// that it reports nothing else that way: a missing row stays ErrNotFound
// and not ErrUnavailable, before the outage and after Restore. open
// returns a fresh, empty store the suite closes.
func RunUnavailable(t *testing.T, open func(t *testing.T) Outage) {
	for _, mode := range []string{"Cut", "Blackhole"} {
		t.Run(mode, func(t *testing.T) {
			o := open(t)
			t.Cleanup(func() { _ = o.Store.Close() })
			ctx := t.Context()
			mustOK(t, o.Store.UpsertClient(ctx, client("c1")))
			_, err := o.Store.GetClient(ctx, "missing")
			if !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("a missing client with the service up: %v; want ErrNotFound only", err)
			}
			if mode == "Cut" {
				o.Cut()
			} else {
				o.Blackhole()
			}
			for name, call := range outageCalls(o.Store) {
				if err := call(ctx); !errors.Is(err, store.ErrUnavailable) {
					t.Errorf("%s with the service %s: %v; want store.ErrUnavailable", name, mode, err)
				} else if errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s with the service %s: %v is ErrNotFound too", name, mode, err)
				}
			}
			o.Restore()
			// The first calls after the outage may still meet a connection
			// it broke; from the first success on, the store must answer.
			var got error
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if _, got = o.Store.GetClient(ctx, "c1"); got == nil || time.Now().After(deadline) {
					break
				}
			}
			mustOK(t, got)
			_, err = o.Store.GetClient(ctx, "missing")
			if !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("a missing client after the outage: %v; want ErrNotFound only", err)
			}
		})
	}
}

// outageCalls are one store call of each shape.
func outageCalls(s store.Store) map[string]func(context.Context) error {
	n := 0
	next := func() string { n++; return fmt.Sprint("outage-", n) }
	return map[string]func(context.Context) error{
		"GetClient (one row)": func(ctx context.Context) error { _, err := s.GetClient(ctx, "c1"); return err },
		"ListClients (rows)":  func(ctx context.Context) error { _, err := s.ListClients(ctx); return err },
		"PutCode (write)":     func(ctx context.Context) error { return s.PutCode(ctx, authCode(next(), t0.Add(time.Minute))) },
		"CreateFamily (transaction)": func(ctx context.Context) error {
			f, rt := family(next(), t0.Add(time.Hour))
			return s.CreateFamily(ctx, f, rt)
		},
	}
}
