package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/store"
)

// Defaults for Options.
const (
	DefaultPublishAhead     = time.Hour
	DefaultMaxTokenLifetime = time.Hour
	DefaultRotationPeriod   = 30 * 24 * time.Hour
)

// Options configure a Manager. Zero fields take the defaults.
type Options struct {
	// Algorithm of new keys: ES256 (default) or EdDSA.
	Algorithm jose.SignatureAlgorithm
	// PublishAhead is how long a new key is published before it signs, so
	// that verifiers caching the JWKS learn it first. Default 1h.
	PublishAhead time.Duration
	// MaxTokenLifetime is the longest lifetime of anything the keys sign
	// (access tokens); a retired key stays published that long. Default 1h.
	MaxTokenLifetime time.Duration
	// RotationPeriod is how long each key signs before Maintain rotates it.
	// Default 30 days; must exceed PublishAhead.
	RotationPeriod time.Duration
}

func (o *Options) setDefaults() error {
	if o.Algorithm == "" {
		o.Algorithm = ES256
	}
	if o.Algorithm != ES256 && o.Algorithm != EdDSA {
		return fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, o.Algorithm)
	}
	if o.PublishAhead == 0 {
		o.PublishAhead = DefaultPublishAhead
	}
	if o.MaxTokenLifetime == 0 {
		o.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	if o.RotationPeriod == 0 {
		o.RotationPeriod = DefaultRotationPeriod
	}
	if o.PublishAhead < 0 || o.MaxTokenLifetime < 0 || o.RotationPeriod <= o.PublishAhead {
		return errors.New("keys: durations must be positive and RotationPeriod must exceed PublishAhead")
	}
	return nil
}

// Manager keeps the signing keys of one server instance: an in-memory
// snapshot of the store's keys with their decrypted private parts. It is
// safe for concurrent use; several Managers may share one store.
type Manager struct {
	st   store.SigningKeys
	keks []KEK
	opts Options

	mu   sync.Mutex // serialises Refresh, Rotate, EnsureKey, Maintain
	snap atomic.Pointer[snapshot]
}

type entry struct {
	row store.SigningKey
	pub jose.JSONWebKey
	key *SigningKey
}

// snapshot is immutable once published; entries are sorted by signing
// precedence (ActivatesAt, CreatedAt, ID), oldest first.
type snapshot struct{ entries []*entry }

// New returns a Manager over st. keks must hold at least one KEK: the
// first seals new keys, every one is tried to open stored keys. Call
// Refresh (or EnsureKey or Maintain) before Signer.
func New(st store.SigningKeys, keks []KEK, opts Options) (*Manager, error) {
	if len(keks) == 0 {
		return nil, ErrNoKEK
	}
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	m := &Manager{st: st, keks: slices.Clone(keks), opts: opts}
	m.snap.Store(&snapshot{})
	return m, nil
}

// Options returns the options in effect, defaults filled in.
func (m *Manager) Options() Options { return m.opts }

func precedes(a, b *store.SigningKey) int {
	if c := a.ActivatesAt.Compare(b.ActivatesAt); c != 0 {
		return c
	}
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

func canSign(k *store.SigningKey, now time.Time) bool {
	return !now.Before(k.ActivatesAt) && (k.RetiresAt.IsZero() || now.Before(k.RetiresAt))
}

func published(k *store.SigningKey, now time.Time) bool {
	return !now.Before(k.CreatedAt) && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

// Refresh reloads the keys from the store and decrypts the new ones. On
// error the previous snapshot stays in use.
func (m *Manager) Refresh(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refresh(ctx)
}

func (m *Manager) refresh(ctx context.Context) error {
	rows, err := m.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: listing keys: %w", err)
	}
	old := make(map[string]*entry)
	for _, e := range m.snap.Load().entries {
		old[e.row.ID] = e
	}
	next := &snapshot{entries: make([]*entry, 0, len(rows))}
	var errs []error
	for _, r := range rows {
		if o := old[r.ID]; o != nil && bytes.Equal(o.row.PrivateEnc, r.PrivateEnc) && bytes.Equal(o.row.PublicJWK, r.PublicJWK) {
			e := *o
			e.row = *r
			next.entries = append(next.entries, &e)
			continue
		}
		pub, err := decodePublic(r.ID, r.Algorithm, r.PublicJWK)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s, err := decodePrivate(m.keks, pub, r.PrivateEnc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		next.entries = append(next.entries, &entry{row: *r, pub: pub, key: newSigningKey(s, pub)})
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	slices.SortFunc(next.entries, func(a, b *entry) int { return precedes(&a.row, &b.row) })
	m.snap.Store(next)
	return nil
}

// Signer returns the key that signs at now with the primary algorithm
// (Options.Algorithm): the newest such key with ActivatesAt ≤ now <
// RetiresAt. It reads only memory and does not allocate; it returns
// ErrNoSigningKey when no key is active.
func (m *Manager) Signer(now time.Time) (*SigningKey, error) {
	return m.SignerFor(m.opts.Algorithm, now)
}

// SignerFor is Signer for the chain of keys of algorithm alg (the primary
// algorithm or RS256).
func (m *Manager) SignerFor(alg jose.SignatureAlgorithm, now time.Time) (*SigningKey, error) {
	es := m.snap.Load().entries
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].row.Algorithm == string(alg) && canSign(&es[i].row, now) {
			return es[i].key, nil
		}
	}
	return nil, ErrNoSigningKey
}

// JWKS returns the public keys published at now: those with CreatedAt ≤
// now < ExpiresAt, oldest first.
func (m *Manager) JWKS(now time.Time) jose.JSONWebKeySet {
	es := m.snap.Load().entries
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(es))}
	for _, e := range es {
		if published(&e.row, now) {
			set.Keys = append(set.Keys, e.pub)
		}
	}
	return set
}

// EnsureKey creates a key that signs immediately when no key is active at
// now. When the store also records single-use values (store.OneTime, as
// sqlstore does), instances starting together on an empty store agree on
// one creator: the first to claim a lease creates the key and the others
// wait for it (up to the lease, after which they create one themselves, in
// case the claimant died). Without that, each would create and sign with
// its own first key, and until the next refresh each would publish only its
// own.
func (m *Manager) EnsureKey(ctx context.Context, now time.Time) error {
	return m.EnsureKeyFor(ctx, m.opts.Algorithm, now)
}

// EnsureKeyFor is EnsureKey for the chain of algorithm alg: the primary
// algorithm, or RS256, whose first key is made when it is first needed
// (an RSA-2048 key takes a noticeable moment to generate, and most
// deployments never need one). Once it exists, Maintain rotates it.
func (m *Manager) EnsureKeyFor(ctx context.Context, alg jose.SignatureAlgorithm, now time.Time) error {
	if alg != m.opts.Algorithm && alg != RS256 {
		return fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ensureKey(ctx, alg, now)
}

func (m *Manager) ensureKey(ctx context.Context, alg jose.SignatureAlgorithm, now time.Time) error {
	if err := m.refresh(ctx); err != nil {
		return err
	}
	if _, err := m.SignerFor(alg, now); err == nil {
		return nil
	}
	if ot, ok := m.st.(store.OneTime); ok {
		lease := firstKeyLease
		if alg != m.opts.Algorithm {
			lease += ":" + string(alg)
		}
		err := ot.UseOnce(ctx, lease, now.Add(firstKeyLeaseTTL), now)
		switch {
		case errors.Is(err, store.ErrAlreadyUsed):
			// Another instance is creating the key: wait for it.
			if err := m.waitForKey(ctx, alg); err == nil {
				return nil
			} else if !errors.Is(err, ErrNoSigningKey) {
				return err
			}
		case err != nil:
			return fmt.Errorf("keys: claiming the first key: %w", err)
		}
	}
	if _, err := m.create(ctx, alg, now, now); err != nil {
		return err
	}
	return m.refresh(ctx)
}

// The lease that makes one instance create the first key.
const (
	firstKeyLease    = "ward:keys:first"
	firstKeyLeaseTTL = 30 * time.Second
	firstKeyPoll     = 100 * time.Millisecond
)

// waitForKey polls the store until another instance's first key appears,
// for at most the lease's lifetime (wall-clock time: the wait is real
// whatever clock the caller injects); ErrNoSigningKey when none appeared.
// Any key will do: the creator's clock may be a little ahead of now, so its
// key may start signing a moment after now.
func (m *Manager) waitForKey(ctx context.Context, alg jose.SignatureAlgorithm) error {
	deadline := time.Now().Add(firstKeyLeaseTTL)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(firstKeyPoll):
		}
		if err := m.refresh(ctx); err != nil {
			return err
		}
		if m.newest(alg) != nil {
			return nil
		}
	}
	return ErrNoSigningKey
}

// newest returns the row of the newest key of alg in the snapshot, or nil.
func (m *Manager) newest(alg jose.SignatureAlgorithm) *store.SigningKey {
	es := m.snap.Load().entries
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].row.Algorithm == string(alg) {
			return &es[i].row
		}
	}
	return nil
}

func (m *Manager) create(ctx context.Context, alg jose.SignatureAlgorithm, now, activates time.Time) (*store.SigningKey, error) {
	s, err := generate(alg)
	if err != nil {
		return nil, fmt.Errorf("keys: generating key: %w", err)
	}
	pub, pubJSON, sealed, err := encodeKey(s, alg, m.keks[0])
	if err != nil {
		return nil, err
	}
	row := &store.SigningKey{
		ID: pub.KeyID, Algorithm: string(alg),
		PublicJWK: pubJSON, PrivateEnc: sealed,
		CreatedAt: now, ActivatesAt: activates,
	}
	if err := m.st.PutSigningKey(ctx, row); err != nil {
		return nil, fmt.Errorf("keys: storing key %q: %w", row.ID, err)
	}
	return row, nil
}

// Rotate creates a key of the primary algorithm that is published at once
// and signs from now+PublishAhead, and schedules every older key of that
// algorithm to retire at that instant and leave the JWKS MaxTokenLifetime
// later. It returns the new key's row (without its private part).
func (m *Manager) Rotate(ctx context.Context, now time.Time) (*store.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rotate(ctx, m.opts.Algorithm, now)
}

func (m *Manager) rotate(ctx context.Context, alg jose.SignatureAlgorithm, now time.Time) (*store.SigningKey, error) {
	if err := m.refresh(ctx); err != nil {
		return nil, err
	}
	row, err := m.create(ctx, alg, now, now.Add(m.opts.PublishAhead))
	if err != nil {
		return nil, err
	}
	for _, e := range m.snap.Load().entries {
		r := e.row // a copy
		// Each algorithm's chain rotates on its own.
		if r.Algorithm != row.Algorithm || precedes(&r, row) >= 0 || (!r.RetiresAt.IsZero() && !r.RetiresAt.After(row.ActivatesAt)) {
			continue
		}
		r.RetiresAt = row.ActivatesAt
		r.ExpiresAt = r.RetiresAt.Add(m.opts.MaxTokenLifetime)
		if err := m.st.UpdateSigningKey(ctx, &r); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("keys: retiring key %q: %w", r.ID, err)
		}
	}
	if err := m.refresh(ctx); err != nil {
		return nil, err
	}
	out := *row
	out.PrivateEnc = nil
	return &out, nil
}

// Maintain is the background schedule, to be called periodically (every
// few minutes, much more often than PublishAhead): it reloads the keys,
// creates one of the primary algorithm if none is active, rotates each
// algorithm's chain (the primary one, and RS256 once it exists) when its
// newest key has been active for RotationPeriod−PublishAhead (so that each
// key signs for about RotationPeriod), and deletes keys past their
// ExpiresAt.
func (m *Manager) Maintain(ctx context.Context, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.ensureKey(ctx, m.opts.Algorithm, now); err != nil {
		return err
	}
	for _, alg := range []jose.SignatureAlgorithm{m.opts.Algorithm, RS256} {
		newest := m.newest(alg)
		if newest == nil {
			continue
		}
		if !now.Before(newest.ActivatesAt.Add(m.opts.RotationPeriod - m.opts.PublishAhead)) {
			if _, err := m.rotate(ctx, alg, now); err != nil {
				return err
			}
		}
	}
	pruned := false
	for _, e := range m.snap.Load().entries {
		if !e.row.ExpiresAt.IsZero() && !now.Before(e.row.ExpiresAt) {
			if err := m.st.DeleteSigningKey(ctx, e.row.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("keys: deleting key %q: %w", e.row.ID, err)
			}
			pruned = true
		}
	}
	if pruned {
		return m.refresh(ctx)
	}
	return nil
}
