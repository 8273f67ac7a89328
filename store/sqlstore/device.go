package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardauth/ward/store"
)

// This file stores device authorizations (RFC 8628, store.DeviceGrants).
// Every state change is one conditional UPDATE, so of concurrent callers
// exactly one sees its row affected: the decision, the binding of the
// key at the first poll, and the redemption.

const deviceCols = `hash, user_code_hash, client_id, scope, resources, jkt, cert_thumbprint,
	interval_ns, last_poll_at, status, subject, auth_time, family_id, created_at, expires_at`

func scanDeviceGrant(sc scanner) (*store.DeviceGrant, error) {
	var (
		g                         store.DeviceGrant
		res                       string
		interval, lastPoll        int64
		authTime, created, expiry sql.NullInt64
	)
	err := sc.Scan(&g.Hash, &g.UserCodeHash, &g.ClientID, &g.Scope, &res, &g.JKT, &g.CertThumbprint,
		&interval, &lastPoll, &g.Status, &g.Subject, &authTime, &g.FamilyID, &created, &expiry)
	if err != nil {
		return nil, err
	}
	if g.Resources, err = jsonVal[string](res); err != nil {
		return nil, err
	}
	g.Interval = time.Duration(interval)
	if lastPoll != 0 {
		g.LastPollAt = time.Unix(0, lastPoll).UTC()
	}
	g.AuthTime, g.CreatedAt, g.ExpiresAt = timeVal(authTime), timeVal(created), timeVal(expiry)
	return &g, nil
}

// PutDeviceGrant implements [store.DeviceGrants].
func (s *Store) PutDeviceGrant(ctx context.Context, g *store.DeviceGrant) error {
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO device_grants (`+deviceCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		g.Hash, g.UserCodeHash, g.ClientID, g.Scope, jsonArg(g.Resources), g.JKT, g.CertThumbprint,
		int64(g.Interval), pollArg(g.LastPollAt), g.Status, g.Subject, timeArg(g.AuthTime), g.FamilyID,
		timeArg(g.CreatedAt), g.ExpiresAt.UnixNano())
	if s.d.isUniqueViolation(err) {
		return fmt.Errorf("sqlstore: put device grant: %w", store.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: put device grant: %w", err)
	}
	return nil
}

func pollArg(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// GetDeviceGrant implements [store.DeviceGrants].
func (s *Store) GetDeviceGrant(ctx context.Context, hash []byte, clientID string, now time.Time) (*store.DeviceGrant, error) {
	g, err := s.getDevice(ctx, `hash = ? AND client_id = ?`, hash, clientID)
	return checkDevice("get device grant", g, err, now)
}

// GetDeviceGrantByUserCode implements [store.DeviceGrants].
func (s *Store) GetDeviceGrantByUserCode(ctx context.Context, userHash []byte, now time.Time) (*store.DeviceGrant, error) {
	g, err := s.getDevice(ctx, `user_code_hash = ?`, userHash)
	return checkDevice("get device grant by user code", g, err, now)
}

func (s *Store) getDevice(ctx context.Context, where string, args ...any) (*store.DeviceGrant, error) {
	return scanDeviceGrant(s.r.QueryRowContext(ctx, s.q(`SELECT `+deviceCols+` FROM device_grants WHERE `+where), args...))
}

// checkDevice maps a read's result: ErrNotFound, ErrExpired with the
// grant, or the grant.
func checkDevice(op string, g *store.DeviceGrant, err error, now time.Time) (*store.DeviceGrant, error) {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	case err != nil:
		return nil, unavailable(fmt.Errorf("sqlstore: %s: %w", op, err))
	case !now.Before(g.ExpiresAt):
		return g, fmt.Errorf("sqlstore: %s: %w", op, store.ErrExpired)
	}
	return g, nil
}

// DecideDeviceGrant implements [store.DeviceGrants].
func (s *Store) DecideDeviceGrant(ctx context.Context, userHash []byte, approve bool, subject string, authTime, now time.Time) error {
	status := store.DeviceDenied
	if approve {
		status = store.DeviceApproved
	} else {
		subject, authTime = "", time.Time{}
	}
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE device_grants SET status = ?, subject = ?, auth_time = ?
		WHERE user_code_hash = ? AND status = ? AND expires_at > ?`),
		status, subject, timeArg(authTime), userHash, store.DevicePending, now.UnixNano())
	if err != nil {
		return fmt.Errorf("sqlstore: decide device grant: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: decide device grant: %w", err)
	} else if n == 1 {
		return nil
	}
	if _, err := s.GetDeviceGrantByUserCode(ctx, userHash, now); err != nil {
		return err
	}
	return fmt.Errorf("sqlstore: decide device grant: %w", store.ErrAlreadyUsed)
}

// PollDeviceGrant implements [store.DeviceGrants]. The UPDATE is
// conditioned on the binding and the last poll time read before it: a
// concurrent poll that changed either leaves this one unrecorded: it is
// answered slow_down with the grant read again, or ErrKeyMismatch when
// the poll that won bound another key (lostPoll).
func (s *Store) PollDeviceGrant(ctx context.Context, hash []byte, clientID, jkt, x5t string, now time.Time, step time.Duration) (*store.DeviceGrant, bool, error) {
	g, err := s.GetDeviceGrant(ctx, hash, clientID, now)
	if err != nil {
		return g, false, err
	}
	if (g.JKT != "" || g.CertThumbprint != "") && (g.JKT != jkt || g.CertThumbprint != x5t) {
		return g, false, fmt.Errorf("sqlstore: poll device grant: %w", store.ErrKeyMismatch)
	}
	// RFC 8628 §3.5: polling faster than the interval is slow_down, and
	// the interval grows for this and every later request.
	slow := !g.LastPollAt.IsZero() && now.Sub(g.LastPollAt) < g.Interval
	interval := g.Interval
	if slow {
		interval += step
	}
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE device_grants SET jkt = ?, cert_thumbprint = ?, last_poll_at = ?, interval_ns = ?
		WHERE hash = ? AND jkt = ? AND cert_thumbprint = ? AND last_poll_at = ?`),
		jkt, x5t, now.UnixNano(), int64(interval), hash, g.JKT, g.CertThumbprint, pollArg(g.LastPollAt))
	if err != nil {
		return nil, false, unavailable(fmt.Errorf("sqlstore: poll device grant: %w", err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, false, unavailable(fmt.Errorf("sqlstore: poll device grant: %w", err))
	} else if n == 0 {
		return s.lostPoll(ctx, hash, clientID, jkt, x5t, now)
	}
	g.JKT, g.CertThumbprint, g.LastPollAt, g.Interval = jkt, x5t, now.UTC(), interval
	return g, slow, nil
}

// lostPoll answers a poll that a concurrent one overtook: the grant as
// it stands now, slow; ErrKeyMismatch when the winner bound another key
// (never the grant as read before, approved and unbound).
func (s *Store) lostPoll(ctx context.Context, hash []byte, clientID, jkt, x5t string, now time.Time) (*store.DeviceGrant, bool, error) {
	g, err := s.GetDeviceGrant(ctx, hash, clientID, now)
	if err != nil {
		return g, false, err
	}
	if g.JKT != jkt || g.CertThumbprint != x5t {
		return g, false, fmt.Errorf("sqlstore: poll device grant: %w", store.ErrKeyMismatch)
	}
	return g, true, nil
}

// RedeemDeviceGrant implements [store.DeviceGrants].
func (s *Store) RedeemDeviceGrant(ctx context.Context, hash []byte, fam *store.Family, rt *store.RefreshToken, now time.Time) error {
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE device_grants SET status = ?, family_id = ?
			WHERE hash = ? AND status = ? AND expires_at > ?`),
			store.DeviceRedeemed, fam.ID, hash, store.DeviceApproved, now.UnixNano())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			return insertFamily(ctx, s, tx, fam, rt)
		}
		g, err := scanDeviceGrant(tx.QueryRowContext(ctx, s.q(`SELECT `+deviceCols+` FROM device_grants WHERE hash = ?`), hash))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return err
		case !now.Before(g.ExpiresAt):
			return store.ErrExpired
		}
		return store.ErrAlreadyUsed
	})
	if err != nil {
		return fmt.Errorf("sqlstore: redeem device grant: %w", err)
	}
	return nil
}
