package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/wardauth/ward/store"
)

// EnqueueLogouts implements [store.LogoutOutbox].
func (s *Store) EnqueueLogouts(ctx context.Context, ds []*store.LogoutDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, d := range ds {
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO logout_outbox
				(id, client_id, subject, sid, attempts, next_at, claim, created_at, expires_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				d.ID, d.ClientID, d.Subject, d.SID, d.Attempts, d.NextAt.UnixNano(), d.Claim,
				timeArg(d.CreatedAt), d.ExpiresAt.UnixNano())
			if s.d.isUniqueViolation(err) {
				return store.ErrAlreadyExists
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: enqueue logouts: %w", err)
	}
	return nil
}

// ClaimLogouts implements [store.LogoutOutbox]: one UPDATE ... RETURNING.
// The outer "next_at <= now" is checked again on the row it updates, so
// of two claimers that picked the same row only the first takes it: under
// SQLite's write lock as under PostgreSQL's row locks at READ COMMITTED
// (the second sees the moved next_at when the first commits), and on
// PostgreSQL SKIP LOCKED makes the second pick other rows instead.
func (s *Store) ClaimLogouts(ctx context.Context, claim string, now time.Time, lease time.Duration, n int) ([]*store.LogoutDelivery, error) {
	if n <= 0 || claim == "" {
		return nil, fmt.Errorf("sqlstore: claim logouts: need a claim and n > 0")
	}
	var out []*store.LogoutDelivery
	err := s.retry(ctx, func() error {
		out = out[:0]
		rows, err := s.w.QueryContext(ctx, s.q(`UPDATE logout_outbox
			SET claim = ?, attempts = attempts + 1, next_at = ?
			WHERE next_at <= ? AND id IN (SELECT id FROM logout_outbox WHERE next_at <= ?
				ORDER BY next_at, id LIMIT ?`+s.d.skipLocked+`)
			RETURNING id, client_id, subject, sid, attempts, next_at, claim, created_at, expires_at`),
			claim, now.Add(lease).UnixNano(), now.UnixNano(), now.UnixNano(), n)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: claim logouts: %w", unavailable(err))
	}
	return out, nil
}

func scanDelivery(sc scanner) (*store.LogoutDelivery, error) {
	var (
		d         store.LogoutDelivery
		next, exp int64
		created   sql.NullInt64
	)
	if err := sc.Scan(&d.ID, &d.ClientID, &d.Subject, &d.SID, &d.Attempts, &next, &d.Claim, &created, &exp); err != nil {
		return nil, err
	}
	d.NextAt, d.ExpiresAt, d.CreatedAt = time.Unix(0, next).UTC(), time.Unix(0, exp).UTC(), timeVal(created)
	return &d, nil
}

// RetryLogout implements [store.LogoutOutbox].
func (s *Store) RetryLogout(ctx context.Context, id, claim string, next time.Time) error {
	if claim == "" {
		return fmt.Errorf("sqlstore: retry logout %q: %w", id, store.ErrNotFound)
	}
	err := exec1(ctx, s.w, s.q(`UPDATE logout_outbox SET next_at = ?, claim = '' WHERE id = ? AND claim = ?`),
		store.ErrNotFound, next.UnixNano(), id, claim)
	if err != nil {
		return fmt.Errorf("sqlstore: retry logout %q: %w", id, err)
	}
	return nil
}

// FinishLogout implements [store.LogoutOutbox].
func (s *Store) FinishLogout(ctx context.Context, id, claim string) error {
	if claim == "" {
		return fmt.Errorf("sqlstore: finish logout %q: %w", id, store.ErrNotFound)
	}
	err := exec1(ctx, s.w, s.q(`DELETE FROM logout_outbox WHERE id = ? AND claim = ?`), store.ErrNotFound, id, claim)
	if err != nil {
		return fmt.Errorf("sqlstore: finish logout %q: %w", id, err)
	}
	return nil
}
