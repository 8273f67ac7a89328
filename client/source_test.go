package client

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func fakeSource(t *testing.T, now func() time.Time, fetch func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error)) *TokenSource {
	c, err := New(Endpoint{TokenURL: "http://127.0.0.1:1/token"}, "x", WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	return &TokenSource{c: c, fetch: fetch}
}

// TestTokenSourceRenewal: a token is renewed only within the refresh
// margin; one fetch serves many concurrent callers; an error reaches every
// waiter and the next call tries again.
func TestTokenSourceRenewal(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var fetches atomic.Int32
	release := make(chan struct{})
	fail := atomic.Bool{}
	ts := fakeSource(t, clock, func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
		n := fetches.Add(1)
		<-release
		if fail.Load() {
			return nil, errors.New("boom")
		}
		return &oauth2.Token{AccessToken: string(rune('a' + n)), Expiry: clock().Add(time.Minute)}, nil
	})
	run := func(n int) ([]*oauth2.Token, []error) {
		toks, errs := make([]*oauth2.Token, n), make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { toks[i], errs[i] = ts.Token() })
		}
		// Let them all block on the one fetch.
		for fetches.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		release <- struct{}{}
		wg.Wait()
		return toks, errs
	}
	toks, errs := run(50)
	for i := range toks {
		if errs[i] != nil || toks[i] != toks[0] {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
	}
	if fetches.Load() != 1 {
		t.Fatalf("%d fetches, want 1", fetches.Load())
	}
	advance(29 * time.Second) // 31 s left > 30 s margin
	if tok, _ := ts.Token(); tok != toks[0] || fetches.Load() != 1 {
		t.Fatal("renewed outside the margin")
	}
	advance(2 * time.Second) // 29 s left
	fail.Store(true)
	_, errs = run(20)
	for i, err := range errs {
		if err == nil || err.Error() != "boom" {
			t.Fatalf("caller %d: %v, want the fetch error", i, err)
		}
	}
	if fetches.Load() != 2 {
		t.Fatalf("%d fetches, want 2", fetches.Load())
	}
}

// TestTokenSourceLeaderCancelled: when the caller whose request renews the
// token gives up, a waiting caller renews it itself instead of failing.
func TestTokenSourceLeaderCancelled(t *testing.T) {
	var fetches atomic.Int32
	started := make(chan struct{}, 2)
	ts := fakeSource(t, time.Now, func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
		fetches.Add(1)
		started <- struct{}{}
		if fetches.Load() == 1 {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return &oauth2.Token{AccessToken: "ok"}, nil
	})
	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() { _, err := ts.TokenContext(leaderCtx); leaderErr <- err }()
	<-started
	got := make(chan *oauth2.Token, 1)
	go func() { tok, _ := ts.Token(); got <- tok }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader: %v", err)
	}
	select {
	case tok := <-got:
		if tok == nil || tok.AccessToken != "ok" {
			t.Fatalf("follower got %v", tok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follower stuck")
	}
}

// TestTokenSourceSaverError: a failing saver's error reaches the caller,
// and the rotated token is kept in memory (the old one is spent).
func TestTokenSourceSaverError(t *testing.T) {
	c, _ := New(Endpoint{TokenURL: "http://127.0.0.1:1/token"}, "x", WithTokenSaver(failSaver{}))
	ts := &TokenSource{c: c, fetch: func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
		return &oauth2.Token{AccessToken: "new", RefreshToken: "r2"}, nil
	}}
	if _, err := ts.Token(); err == nil {
		t.Fatal("saver error lost")
	}
	if p := ts.Peek(); p == nil || p.RefreshToken != "r2" {
		t.Fatalf("rotated token not kept: %v", p)
	}
}

type failSaver struct{}

func (failSaver) SaveToken(*oauth2.Token) error { return errors.New("disk full") }
