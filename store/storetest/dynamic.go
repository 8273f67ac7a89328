package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// testDynamicClients: a dynamic client's registration token hash and
// expiry round-trip, and DeleteExpired removes a dynamic client once its
// expiry passed and no family of it is left (RFC 7591 clients that went
// unused; authz register.go), never a static or a used one.
func testDynamicClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	dyn := func(id string, exp time.Time) *store.Client {
		return &store.Client{ID: id, Name: id, AuthMethod: oauth.AuthNone, SenderConstraint: store.ConstraintDPoP,
			RedirectURIs: []string{"http://127.0.0.1/cb"}, CreatedAt: t0, Dynamic: true,
			RegistrationTokenHash: hash("rat-" + id), ExpiresAt: exp}
	}
	old, live := t0.Add(time.Minute), t0.Add(48*time.Hour)
	unused, used, fresh := dyn("dyn-unused", old), dyn("dyn-used", old), dyn("dyn-fresh", live)
	for _, c := range []*store.Client{unused, used, fresh} {
		mustOK(t, s.CreateClient(ctx, c))
	}
	got, err := s.GetClient(ctx, "dyn-unused")
	mustOK(t, err)
	same(t, "dynamic", got, unused)
	// A replacement needs the current registration token hash; it keeps
	// CreatedAt and never brings back a deleted client.
	repl := dyn("dyn-unused", old)
	repl.Name, repl.RegistrationTokenHash, repl.CreatedAt = "renamed", hash("rat-2"), t0.Add(time.Hour)
	wantErr(t, "replace with a wrong token", s.ReplaceDynamicClient(ctx, repl, hash("wrong")), store.ErrNotFound)
	mustOK(t, s.ReplaceDynamicClient(ctx, repl, hash("rat-dyn-unused")))
	wantErr(t, "replace with the rotated-away token", s.ReplaceDynamicClient(ctx, repl, hash("rat-dyn-unused")), store.ErrNotFound)
	got, err = s.GetClient(ctx, "dyn-unused")
	mustOK(t, err)
	repl.CreatedAt = t0
	same(t, "replaced", got, repl)
	gone := dyn("dyn-gone", old)
	mustOK(t, s.CreateClient(ctx, gone))
	mustOK(t, s.DeleteClient(ctx, "dyn-gone"))
	wantErr(t, "replace a deleted client", s.ReplaceDynamicClient(ctx, gone, gone.RegistrationTokenHash), store.ErrNotFound)
	_, err = s.GetClient(ctx, "dyn-gone")
	wantErr(t, "deleted client after replace", err, store.ErrNotFound)

	notDyn := client("not-dynamic")
	notDyn.RegistrationTokenHash = hash("rat-x")
	mustOK(t, s.CreateClient(ctx, notDyn))
	wantErr(t, "replace a client that is not dynamic", s.ReplaceDynamicClient(ctx, notDyn, hash("rat-x")), store.ErrNotFound)

	st := client("static")
	st.Static = true
	mustOK(t, s.CreateClient(ctx, st))
	fam, rt := family("fam-of-used", live)
	fam.ClientID = "dyn-used"
	mustOK(t, s.CreateFamily(ctx, fam, rt))

	n, err := s.DeleteExpired(ctx, t0.Add(time.Hour), 100)
	mustOK(t, err)
	if n != 1 {
		t.Fatalf("DeleteExpired = %d, want 1 (the unused dynamic client)", n)
	}
	_, err = s.GetClient(ctx, "dyn-unused")
	wantErr(t, "unused dynamic client after sweep", err, store.ErrNotFound)
	for _, id := range []string{"dyn-used", "dyn-fresh", "static"} {
		_, err := s.GetClient(ctx, id)
		mustOK(t, err)
	}
}

// testInitialAccessTokens: a reusable token serves until it expires, a
// single-use one exactly once, also under concurrent use, and
// DeleteExpired removes expired ones.
func testInitialAccessTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := t0.Add(time.Hour)
	multi := &store.InitialAccessToken{Hash: hash("iat-multi"), CreatedAt: t0, ExpiresAt: exp}
	mustOK(t, s.PutInitialAccessToken(ctx, multi))
	wantErr(t, "put duplicate", s.PutInitialAccessToken(ctx, multi), store.ErrAlreadyExists)
	for range 2 {
		got, err := s.UseInitialAccessToken(ctx, multi.Hash, t0)
		mustOK(t, err)
		same(t, "reusable", got, multi)
	}
	_, err := s.UseInitialAccessToken(ctx, multi.Hash, exp)
	wantErr(t, "expired", err, store.ErrExpired)
	_, err = s.UseInitialAccessToken(ctx, hash("nope"), t0)
	wantErr(t, "unknown", err, store.ErrNotFound)

	once := &store.InitialAccessToken{Hash: hash("iat-once"), SingleUse: true, CreatedAt: t0, ExpiresAt: exp}
	mustOK(t, s.PutInitialAccessToken(ctx, once))
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Go(func() {
			_, err := s.UseInitialAccessToken(ctx, once.Hash, t0)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("single-use token used %d times, want 1", wins)
	}
	onceOld := &store.InitialAccessToken{Hash: hash("iat-once-old"), SingleUse: true, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	mustOK(t, s.PutInitialAccessToken(ctx, onceOld))
	_, err = s.UseInitialAccessToken(ctx, onceOld.Hash, exp)
	wantErr(t, "expired single use", err, store.ErrExpired)

	n, err := s.DeleteExpired(ctx, exp, 100)
	mustOK(t, err)
	if n != 2 {
		t.Fatalf("DeleteExpired = %d, want 2 expired initial access tokens", n)
	}
	_, err = s.UseInitialAccessToken(ctx, multi.Hash, t0)
	wantErr(t, "swept", err, store.ErrNotFound)
}
