package server

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/store"
)

// Child spans around the calls of the hot paths to Redis (the DPoP replay
// check, the rate-limit decision) and to the store (the calls of /token
// and /par), made only when the request's span records: without tracing
// the stores are not wrapped at all. Spans carry the operation and, on
// failure, the error class; never a key, jti, hash or token.

// child runs f in a child span of ctx's span, named name, when it records.
func child[T any](ctx context.Context, name string, f func(context.Context) (T, error)) (T, error) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return f(ctx)
	}
	ctx, sp := parent.TracerProvider().Tracer("github.com/wardauth/ward/server").Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attribute.String("db.operation.name", name)))
	defer sp.End()
	v, err := f(ctx)
	if err != nil {
		sp.SetStatus(codes.Error, errorClass(err))
	}
	return v, err
}

// errorClass names an error without its text (which may hold a key).
func errorClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, dpop.ErrSeen):
		return "seen"
	case errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, store.ErrAlreadyUsed):
		return "already_used"
	case errors.Is(err, store.ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// tracedReplay is a DPoP replay store with a span per Use.
type tracedReplay struct{ dpop.ReplayStore }

func (s tracedReplay) Use(ctx context.Context, jkt, jti string, exp time.Time) error {
	_, err := child(ctx, "dpop.replay.use", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.ReplayStore.Use(ctx, jkt, jti, exp)
	})
	return err
}

// tracedLimits is a rate-limit store with a span per Take.
type tracedLimits struct{ ratelimit.Store }

func (s tracedLimits) Take(ctx context.Context, key string, now time.Time, l ratelimit.Limit, cost int) (ratelimit.Result, error) {
	return child(ctx, "ratelimit.take", func(ctx context.Context) (ratelimit.Result, error) {
		return s.Store.Take(ctx, key, now, l, cost)
	})
}

// replay, limits and store wrap the stores when tracing is on.
func (t *tracing) replay(s dpop.ReplayStore) dpop.ReplayStore {
	if t == nil || s == nil {
		return s
	}
	return tracedReplay{s}
}

func (t *tracing) limits(s ratelimit.Store) ratelimit.Store {
	if t == nil || s == nil {
		return s
	}
	return tracedLimits{s}
}

func (t *tracing) store(s store.Store) store.Store {
	if t == nil {
		return s
	}
	return tracedStore{s}
}

// tracedStore traces the store calls of the token and PAR endpoints (the
// hot paths); the others pass through.
type tracedStore struct{ store.Store }

var (
	_ dpop.ReplayStore = tracedReplay{}
	_ ratelimit.Store  = tracedLimits{}
	_ store.Store      = tracedStore{}
)

func (s tracedStore) GetClient(ctx context.Context, id string) (*store.Client, error) {
	return child(ctx, "store.GetClient", func(ctx context.Context) (*store.Client, error) { return s.Store.GetClient(ctx, id) })
}

func (s tracedStore) GetCode(ctx context.Context, hash []byte, now time.Time) (*store.AuthCode, error) {
	return child(ctx, "store.GetCode", func(ctx context.Context) (*store.AuthCode, error) { return s.Store.GetCode(ctx, hash, now) })
}

func (s tracedStore) RedeemCode(ctx context.Context, hash []byte, fam *store.Family, rt *store.RefreshToken, now time.Time) error {
	_, err := child(ctx, "store.RedeemCode", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.Store.RedeemCode(ctx, hash, fam, rt, now)
	})
	return err
}

func (s tracedStore) CreateFamily(ctx context.Context, fam *store.Family, rt *store.RefreshToken) error {
	_, err := child(ctx, "store.CreateFamily", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.Store.CreateFamily(ctx, fam, rt)
	})
	return err
}

func (s tracedStore) GetRefreshToken(ctx context.Context, hash []byte) (*store.RefreshToken, *store.Family, error) {
	var fam *store.Family
	rt, err := child(ctx, "store.GetRefreshToken", func(ctx context.Context) (*store.RefreshToken, error) {
		rt, f, err := s.Store.GetRefreshToken(ctx, hash)
		fam = f
		return rt, err
	})
	return rt, fam, err
}

func (s tracedStore) RotateRefreshToken(ctx context.Context, oldHash []byte, next *store.RefreshToken, now time.Time) (*store.Family, error) {
	return child(ctx, "store.RotateRefreshToken", func(ctx context.Context) (*store.Family, error) {
		return s.Store.RotateRefreshToken(ctx, oldHash, next, now)
	})
}

func (s tracedStore) RevokeFamily(ctx context.Context, id, reason string, now time.Time) error {
	_, err := child(ctx, "store.RevokeFamily", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.Store.RevokeFamily(ctx, id, reason, now)
	})
	return err
}

func (s tracedStore) UseOnce(ctx context.Context, key string, exp, now time.Time) error {
	_, err := child(ctx, "store.UseOnce", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.Store.UseOnce(ctx, key, exp, now)
	})
	return err
}

func (s tracedStore) PutPAR(ctx context.Context, p *store.PARRequest) error {
	_, err := child(ctx, "store.PutPAR", func(ctx context.Context) (struct{}, error) { return struct{}{}, s.Store.PutPAR(ctx, p) })
	return err
}

func (s tracedStore) ConsumePAR(ctx context.Context, id, clientID string, now time.Time) (*store.PARRequest, error) {
	return child(ctx, "store.ConsumePAR", func(ctx context.Context) (*store.PARRequest, error) {
		return s.Store.ConsumePAR(ctx, id, clientID, now)
	})
}

// The device grant's polls (RFC 8628, docs/DEVICE.md) come to the token
// endpoint every few seconds per device: traced like the other grants.

func (s tracedStore) GetDeviceGrant(ctx context.Context, hash []byte, clientID string, now time.Time) (*store.DeviceGrant, error) {
	return child(ctx, "store.GetDeviceGrant", func(ctx context.Context) (*store.DeviceGrant, error) {
		return s.Store.GetDeviceGrant(ctx, hash, clientID, now)
	})
}

func (s tracedStore) PollDeviceGrant(ctx context.Context, hash []byte, clientID, jkt, x5t string, now time.Time, step time.Duration) (*store.DeviceGrant, bool, error) {
	var slow bool
	g, err := child(ctx, "store.PollDeviceGrant", func(ctx context.Context) (*store.DeviceGrant, error) {
		g, sl, err := s.Store.PollDeviceGrant(ctx, hash, clientID, jkt, x5t, now, step)
		slow = sl
		return g, err
	})
	return g, slow, err
}

func (s tracedStore) RedeemDeviceGrant(ctx context.Context, hash []byte, fam *store.Family, rt *store.RefreshToken, now time.Time) error {
	_, err := child(ctx, "store.RedeemDeviceGrant", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.Store.RedeemDeviceGrant(ctx, hash, fam, rt, now)
	})
	return err
}
