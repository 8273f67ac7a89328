package keys

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/wardauth/ward/store"
)

// State is where a key is in its timeline at a given time.
type State int

// States of a key.
const (
	// StateNext: published, not signing yet.
	StateNext State = iota + 1
	// StateCurrent: the key that signs.
	StateCurrent
	// StatePrevious: published for verification, no longer signing.
	StatePrevious
	// StateExpired: past ExpiresAt, waiting to be deleted.
	StateExpired
)

func (s State) String() string {
	switch s {
	case StateNext:
		return "next"
	case StateCurrent:
		return "current"
	case StatePrevious:
		return "previous"
	case StateExpired:
		return "expired"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// KeyInfo describes a stored key for listings (`ward keys list`).
type KeyInfo struct {
	ID          string
	Algorithm   string
	State       State
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetiresAt   time.Time // zero: not scheduled
	ExpiresAt   time.Time // zero: not scheduled
}

// List returns the keys in st with their state at now, in signing order
// (oldest first). It needs no KEK: private parts are not read.
func List(ctx context.Context, st store.SigningKeys, now time.Time) ([]KeyInfo, error) {
	rows, err := st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: listing keys: %w", err)
	}
	slices.SortFunc(rows, precedes)
	// Each algorithm's chain has its own current key.
	current := map[int]bool{}
	seen := map[string]bool{}
	for i := len(rows) - 1; i >= 0; i-- {
		if canSign(rows[i], now) && !seen[rows[i].Algorithm] {
			current[i], seen[rows[i].Algorithm] = true, true
		}
	}
	out := make([]KeyInfo, len(rows))
	for i, r := range rows {
		st := StatePrevious
		switch {
		case !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt):
			st = StateExpired
		case now.Before(r.ActivatesAt):
			st = StateNext
		case current[i]:
			st = StateCurrent
		}
		out[i] = KeyInfo{ID: r.ID, Algorithm: r.Algorithm, State: st, CreatedAt: r.CreatedAt,
			ActivatesAt: r.ActivatesAt, RetiresAt: r.RetiresAt, ExpiresAt: r.ExpiresAt}
	}
	return out, nil
}
