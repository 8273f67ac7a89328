package revocation_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardauth/ward/revocation"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

func h(s string) []byte { b := sha256.Sum256([]byte(s)); return b[:] }

// TestWatchNotifies: every committed revocation notifies (an access
// token, a family, a refresh-token reuse that revokes its family, a code
// replay); a plain rotation or redemption does not.
func TestWatchNotifies(t *testing.T) {
	ctx := t.Context()
	raw, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n atomic.Int32
	st := revocation.Watch(raw, func() { n.Add(1) })
	want := func(what string, k int32) {
		t.Helper()
		if got := n.Swap(0); got != k {
			t.Fatalf("%s: %d notifications, want %d", what, got, k)
		}
	}
	exp := t0.Add(time.Hour)
	fam := func(id string) *store.Family {
		return &store.Family{ID: id, ClientID: "c", Subject: "s", CreatedAt: t0, ExpiresAt: exp}
	}
	rt := func(name, fam string) *store.RefreshToken {
		return &store.RefreshToken{Hash: h(name), FamilyID: fam, CreatedAt: t0, ExpiresAt: exp}
	}
	if err := st.RevokeAccessToken(ctx, "j", exp, t0); err != nil {
		t.Fatal(err)
	}
	want("access token revoked", 1)
	if err := st.CreateFamily(ctx, fam("f1"), rt("r1", "f1")); err != nil {
		t.Fatal(err)
	}
	want("family created", 0)
	if _, err := st.RotateRefreshToken(ctx, h("r1"), rt("r2", "f1"), t0); err != nil {
		t.Fatal(err)
	}
	want("rotation", 0)
	if _, err := st.RotateRefreshToken(ctx, h("r1"), rt("r3", "f1"), t0); !errors.Is(err, store.ErrAlreadyUsed) {
		t.Fatalf("reuse: %v", err)
	}
	want("reuse", 1)
	if err := st.CreateFamily(ctx, fam("f2"), nil); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeFamily(ctx, "f2", "logout", t0); err != nil {
		t.Fatal(err)
	}
	want("family revoked", 1)
	code := &store.AuthCode{Hash: h("code"), ClientID: "c", Subject: "s", RedirectURI: "https://a/cb", CreatedAt: t0, ExpiresAt: exp}
	if err := st.PutCode(ctx, code); err != nil {
		t.Fatal(err)
	}
	if err := st.RedeemCode(ctx, h("code"), fam("f3"), nil, t0); err != nil {
		t.Fatal(err)
	}
	want("redemption", 0)
	if err := st.RedeemCode(ctx, h("code"), fam("f4"), nil, t0); !errors.Is(err, store.ErrAlreadyUsed) {
		t.Fatalf("code replay: %v", err)
	}
	want("code replay", 1)
}

// TestFollowerWake: a wake-up makes Run poll at once, not at its next
// tick.
func TestFollowerWake(t *testing.T) {
	src := &syncSource{}
	w := revocation.NewWakeups()
	set := revocation.NewSet(revocation.SetOptions{})
	f := &revocation.Follower{Source: src, Set: set, Interval: time.Hour, Wake: w.C()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for src.polls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	now := time.Now()
	src.add(revocation.Entry{JTI: "j", RevokedAt: now, Expires: now.Add(time.Hour)})
	w.Wake()
	w.Wake() // coalesced
	deadline := time.Now().Add(5 * time.Second)
	for set.Check("j", "", now) != revocation.Revoked {
		if time.Now().After(deadline) {
			t.Fatal("the wake-up did not cause a poll")
		}
		time.Sleep(time.Millisecond)
	}
}

// syncSource is a fakeSource safe for a running Follower.
type syncSource struct {
	polls   atomic.Int32
	entries atomic.Pointer[[]revocation.Entry]
}

func (s *syncSource) add(e revocation.Entry) { s.entries.Store(&[]revocation.Entry{e}) }

func (s *syncSource) Revocations(_ context.Context, since revocation.Cursor) (revocation.Page, error) {
	s.polls.Add(1)
	p := revocation.Page{Next: since}
	if es := s.entries.Load(); es != nil {
		p.Entries = *es
	}
	return p, nil
}
