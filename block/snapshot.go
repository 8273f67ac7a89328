package block

import (
	"context"
	"time"
)

// Snapshotter is a Store shared by instances (RedisStore) that can read
// every block in force at once. A Blocker on one checks requests against
// a local snapshot refreshed once a Refresh interval, not the store
// (docs/EVENTS.md, "Scale-out").
type Snapshotter interface {
	// Snapshot returns the blocks in force at now, at most limit of them,
	// those ending last first, and how many are in force in all.
	Snapshot(ctx context.Context, now time.Time, limit int) ([]Block, int, error)
}

// DefaultRefresh is how often a Blocker on a Snapshotter reads the blocks
// in force: a block or lift at another instance is enforced here within
// it.
const DefaultRefresh = time.Second

// DefaultSnapshotMax bounds the blocks a snapshot holds.
const DefaultSnapshotMax = MaxList

// snapshot is the blocks in force by kind:value, read-only once published.
type snapshot map[string]time.Time

// change is a block started or lifted (zero until) at this instance.
type change struct {
	key   string
	until time.Time
}

func snapKey(kind Kind, value string) string { return string(kind) + ":" + value }

// lookup returns when the block of (kind, value) ends in the snapshot, or
// the zero time; no store call.
func (b *Blocker) lookup(kind Kind, value string, now time.Time) time.Time {
	if s := b.snap.Load(); s != nil {
		if u, ok := (*s)[snapKey(kind, value)]; ok && u.After(now) {
			return u
		}
	}
	return time.Time{}
}

// apply puts this instance's own block or lift in the snapshot at once,
// and remembers it for a refresh already reading the store.
func (b *Blocker) apply(c change) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, c)
	b.publish(b.snap.Load(), []change{c})
}

// publish installs a copy of base with cs applied; b.mu is held.
func (b *Blocker) publish(base *snapshot, cs []change) {
	next := snapshot{}
	if base != nil {
		for k, u := range *base {
			next[k] = u
		}
	}
	for _, c := range cs {
		if c.until.IsZero() {
			delete(next, c.key)
		} else {
			next[c.key] = c.until
		}
	}
	b.snap.Store(&next)
}

// maybeRefresh reads the blocks in force when the Refresh interval has
// passed since the last read: one request an interval does it, the others
// go on with the snapshot they have. On an error the last snapshot stays
// (fail open for what it lacks, closed for what it has until it ends).
func (b *Blocker) maybeRefresh(ctx context.Context, now time.Time) {
	if now.UnixMicro() < b.nextRefresh.Load() || !b.refreshing.CompareAndSwap(false, true) {
		return
	}
	defer b.refreshing.Store(false)
	b.nextRefresh.Store(now.Add(b.refresh).UnixMicro())
	if b.down(now) {
		return
	}
	b.mu.Lock()
	b.pending = nil // every change so far is in the store
	b.mu.Unlock()
	blocks, total, err := b.snapper.Snapshot(context.WithoutCancel(ctx), now, b.snapMax)
	if err != nil {
		b.storeError("refresh", err, now)
		return
	}
	if total > len(blocks) {
		b.truncated.Add(float64(total - len(blocks)))
		if ok, suppressed := b.logLim.Allow("snapshot"); ok {
			b.log.Warn("more blocks in force than the snapshot holds; the latest kept", "in_force", total,
				"kept", len(blocks), "suppressed", suppressed)
		}
	}
	next := make(snapshot, len(blocks))
	for _, blk := range blocks {
		next[snapKey(blk.Kind, blk.Value)] = blk.Until
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.publish(&next, b.pending)
}
