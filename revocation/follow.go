package revocation

import (
	"context"
	"log/slog"
	"time"
)

// Follower polls a Source into a Set. Sync (once, before serving) and
// then Run are called from one goroutine at a time.
type Follower struct {
	Source Source
	Set    *Set
	// Interval between polls; default 1 s. A revocation reaches the set
	// within Interval plus one round trip.
	Interval time.Duration
	// Overlap: each poll asks again for what was revoked this long before
	// the newest entry seen, so an entry whose revocation time is earlier
	// than one already seen (another instance's clock, a slow commit) is
	// not missed. Default 10 s.
	Overlap time.Duration
	// CatchUp: the first poll starts this long ago; config.MaxAccessTokenTTL
	// (older revocations concern expired tokens only). Default 1 h.
	CatchUp time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Clock; default time.Now.
	Clock func() time.Time
	// OnSync, when set, is called after every poll (for metrics).
	OnSync func(err error, overflow int)
	// Wake, when set, makes Run poll at once instead of at the next tick:
	// a notification that something was revoked (Watch, and Redis
	// pub/sub between processes). Polls stay at least MinWakeGap apart.
	Wake <-chan struct{}

	cursor Cursor
	stale  bool
	pruned time.Time
}

func (f *Follower) defaults() {
	if f.Interval <= 0 {
		f.Interval = time.Second
	}
	if f.Overlap <= 0 {
		f.Overlap = 10 * time.Second
	}
	if f.CatchUp <= 0 {
		f.CatchUp = time.Hour
	}
	if f.Logger == nil {
		f.Logger = slog.Default()
	}
	if f.Clock == nil {
		f.Clock = time.Now
	}
}

// MinWakeGap spaces the polls that wake-ups cause.
const MinWakeGap = 10 * time.Millisecond

// Run polls until ctx is done; it returns nil then. It logs when the set
// goes stale and when it recovers.
func (f *Follower) Run(ctx context.Context) error {
	f.defaults()
	t := time.NewTicker(f.Interval)
	defer t.Stop()
	for {
		err := f.Sync(ctx)
		if ctx.Err() != nil {
			return nil
		}
		f.report(err)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-f.Wake: // nil: never
			// A burst of revocations is read in a few polls, not one
			// each.
			time.Sleep(MinWakeGap)
		}
	}
}

func (f *Follower) report(err error) {
	stale, last := f.Set.Stale()
	switch {
	case stale && !f.stale:
		f.Logger.Error("revocation feed stale: revoked tokens may not be refused; refusing tokens unless on_stale is serve",
			"last_sync", last, "serve_stale", f.Set.opts.ServeStale, "err", err)
	case !stale && f.stale:
		f.Logger.Info("revocation feed caught up", "entries", f.Set.Len())
	case err != nil:
		f.Logger.Debug("revocation feed poll failed", "err", err)
	}
	f.stale = stale
}

// Sync polls the Source until it has nothing more, then marks the Set
// synced. The first Sync catches up from CatchUp ago.
func (f *Follower) Sync(ctx context.Context) error {
	f.defaults()
	now := f.Clock()
	if time.Time(f.cursor).IsZero() {
		f.cursor = Cursor(now.Add(-f.CatchUp))
	}
	since := Cursor(time.Time(f.cursor).Add(-f.Overlap))
	overflow := 0
	for {
		p, err := f.Source.Revocations(ctx, since)
		if err != nil {
			if f.OnSync != nil {
				f.OnSync(err, overflow)
			}
			return err
		}
		if n := f.Set.Add(p.Entries); n > 0 {
			overflow += n
		}
		if time.Time(p.Next).After(time.Time(f.cursor)) {
			f.cursor = p.Next
		}
		if !p.More {
			break
		}
		// A full page whose entries all share the cursor's instant
		// cannot advance: stop rather than loop, and refuse every token
		// issued by then until it has expired (CatchUp is the longest
		// token lifetime), since the revocations past the page are never
		// read: fail closed, as on overflow.
		if !time.Time(p.Next).After(time.Time(since)) {
			at := time.Time(p.Next)
			f.Set.raiseFloor(at, at.Add(f.CatchUp))
			f.Logger.Error("revocation feed: more revocations at one instant than a page holds; refusing every token issued by then until it expires",
				"revoked_at", at)
			break
		}
		since = p.Next
	}
	if overflow > 0 {
		f.Logger.Error("revocation set full: refusing every token issued before the revocations it could not hold, until they expire",
			"dropped", overflow, "max_entries", f.Set.opts.MaxEntries)
	}
	f.Set.MarkSynced()
	if now.Sub(f.pruned) > time.Minute {
		f.Set.Prune()
		f.pruned = now
	}
	if f.OnSync != nil {
		f.OnSync(nil, overflow)
	}
	return nil
}
