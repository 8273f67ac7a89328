package revocation

import (
	"sync"
	"sync/atomic"
	"time"
)

// Status is what a Set says of a token.
type Status uint8

// The answers of Set.Check.
const (
	// Valid: not revoked, as of the last sync.
	Valid Status = iota
	// Revoked: its jti or grant is in the set, or it was issued before a
	// revocation the full set could not hold.
	Revoked
	// Stale: the set has not synced within its staleness bound and is
	// configured to refuse; nothing can be said of the token.
	Stale
)

// DefaultMaxEntries bounds a Set by default.
const DefaultMaxEntries = 100_000

// SetOptions configure a Set.
type SetOptions struct {
	// MaxEntries bounds the set; default DefaultMaxEntries.
	MaxEntries int
	// StaleAfter: how long after its last successful sync the set counts
	// as stale. Default 30 s.
	StaleAfter time.Duration
	// ServeStale keeps answering from the entries held when stale,
	// instead of Stale (fail open; the default is fail closed).
	ServeStale bool
	// Leeway is added to every entry's expiry: the resource server
	// accepts tokens up to its leeway past exp. Default 10 s.
	Leeway time.Duration
	// Clock; default time.Now.
	Clock func() time.Time
}

// Set holds the live revocations. It is safe for concurrent use; Check
// allocates nothing.
type Set struct {
	opts   SetOptions
	mu     sync.RWMutex
	jtis   map[string]int64 // expiry, Unix nanoseconds
	grants map[string]int64
	// Tokens issued at or before floor are refused until floorUntil: the
	// set was full when a revocation at floor arrived.
	floor, floorUntil int64
	synced            atomic.Int64 // last successful sync, Unix nanoseconds; 0: never
}

// NewSet returns an empty Set, stale until its first sync.
func NewSet(o SetOptions) *Set {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 30 * time.Second
	}
	if o.Leeway <= 0 {
		o.Leeway = 10 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &Set{opts: o, jtis: map[string]int64{}, grants: map[string]int64{}}
}

// Check reports whether the token with this jti, grant_id (may be empty)
// and iat is revoked.
func (s *Set) Check(jti, grantID string, issuedAt time.Time) Status {
	now := s.opts.Clock().UnixNano()
	if !s.opts.ServeStale && s.staleAt(now) {
		return Stale
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if exp, ok := s.jtis[jti]; ok && now < exp {
		return Revoked
	}
	if grantID != "" {
		if exp, ok := s.grants[grantID]; ok && now < exp {
			return Revoked
		}
	}
	if now < s.floorUntil && issuedAt.UnixNano() <= s.floor {
		return Revoked
	}
	return Valid
}

func (s *Set) staleAt(now int64) bool {
	return now-s.synced.Load() > int64(s.opts.StaleAfter)
}

// Stale reports whether the set missed its staleness bound, and since
// when it last synced (zero: never).
func (s *Set) Stale() (stale bool, lastSync time.Time) {
	t := s.synced.Load()
	if t != 0 {
		lastSync = time.Unix(0, t)
	}
	return s.staleAt(s.opts.Clock().UnixNano()), lastSync
}

// MarkSynced records a successful sync at the set's clock's now.
func (s *Set) MarkSynced() { s.synced.Store(s.opts.Clock().UnixNano()) }

// Len returns the number of entries held.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.jtis) + len(s.grants)
}

// Add records entries. It returns how many did not fit: for each, every
// token issued at or before its RevokedAt is refused until it expires.
func (s *Set) Add(entries []Entry) (overflow int) {
	now := s.opts.Clock().UnixNano()
	leeway := int64(s.opts.Leeway)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		until := e.Expires.UnixNano() + leeway
		if until <= now {
			continue
		}
		m, id := s.jtis, e.JTI
		if e.GrantID != "" {
			m, id = s.grants, e.GrantID
		}
		if old, ok := m[id]; ok {
			m[id] = max(old, until)
			continue
		}
		if len(s.jtis)+len(s.grants) >= s.opts.MaxEntries {
			s.pruneLocked(now)
		}
		if len(s.jtis)+len(s.grants) >= s.opts.MaxEntries {
			overflow++
			s.floor = max(s.floor, e.RevokedAt.UnixNano())
			s.floorUntil = max(s.floorUntil, until)
			continue
		}
		m[id] = until
	}
	return overflow
}

// raiseFloor refuses every token issued at or before at until until
// (plus the leeway): revocations made by then could not be read.
func (s *Set) raiseFloor(at, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.floor = max(s.floor, at.UnixNano())
	s.floorUntil = max(s.floorUntil, until.UnixNano()+int64(s.opts.Leeway))
}

// Prune drops the entries whose tokens have all expired.
func (s *Set) Prune() {
	now := s.opts.Clock().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
}

func (s *Set) pruneLocked(now int64) {
	for _, m := range []map[string]int64{s.jtis, s.grants} {
		for k, until := range m {
			if until <= now {
				delete(m, k)
			}
		}
	}
}

// ServeStale reports whether the set answers from its entries when stale.
func (s *Set) ServeStale() bool { return s.opts.ServeStale }
