package revocation

import (
	"context"
	"errors"
	"time"

	"github.com/wardauth/ward/store"
)

// Watch wraps st so that notify is called after every committed
// revocation: an access token revoked, a family revoked, a refresh token
// or code reuse that revoked its family. notify must not block (publish
// from a goroutine); it carries no data, only "poll now", so a lost
// notification delays a revocation to the next poll and nothing more.
func Watch(st store.Store, notify func()) store.Store {
	return &watched{Store: st, notify: notify}
}

type watched struct {
	store.Store
	notify func()
}

var _ store.Store = (*watched)(nil)

func (w *watched) RevokeAccessToken(ctx context.Context, jti string, exp, now time.Time) error {
	err := w.Store.RevokeAccessToken(ctx, jti, exp, now)
	w.after(err, false)
	return err
}

func (w *watched) RevokeFamily(ctx context.Context, id, reason string, now time.Time) error {
	err := w.Store.RevokeFamily(ctx, id, reason, now)
	w.after(err, false)
	return err
}

func (w *watched) RotateRefreshToken(ctx context.Context, oldHash []byte, next *store.RefreshToken, now time.Time) (*store.Family, error) {
	f, err := w.Store.RotateRefreshToken(ctx, oldHash, next, now)
	w.after(err, true)
	return f, err
}

func (w *watched) RotateRefreshTokenGrace(ctx context.Context, oldHash []byte, next *store.RefreshToken, now time.Time, grace time.Duration) (*store.Family, bool, error) {
	f, reissued, err := w.Store.RotateRefreshTokenGrace(ctx, oldHash, next, now, grace)
	w.after(err, true)
	return f, reissued, err
}

func (w *watched) RedeemCode(ctx context.Context, hash []byte, fam *store.Family, rt *store.RefreshToken, now time.Time) error {
	err := w.Store.RedeemCode(ctx, hash, fam, rt, now)
	w.after(err, true)
	return err
}

// after notifies for a revocation: any success of a revoking call, or the
// reuse (ErrAlreadyUsed) that revoked a family inside a rotating call.
func (w *watched) after(err error, onlyReuse bool) {
	if onlyReuse && !errors.Is(err, store.ErrAlreadyUsed) || !onlyReuse && err != nil {
		return
	}
	w.notify()
}

// Wakeups is a coalescing signal: Wake never blocks, and C receives at
// most one pending wake-up however many came.
type Wakeups struct{ c chan struct{} }

// NewWakeups returns an empty signal.
func NewWakeups() *Wakeups { return &Wakeups{c: make(chan struct{}, 1)} }

// Wake signals C.
func (w *Wakeups) Wake() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}

// C is the channel to give Follower.Wake.
func (w *Wakeups) C() <-chan struct{} { return w.c }
