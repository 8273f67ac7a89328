package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardauth/ward/store"
)

// Reasons recorded in families.revoked_reason when the store itself revokes
// a family.
const (
	ReasonCodeReuse         = "code_reuse"          // RFC 9700 §4.5
	ReasonRefreshTokenReuse = "refresh_token_reuse" // RFC 9700 §4.14.2
)

const codeCols = `hash, client_id, subject, redirect_uri, scope, resources, code_challenge, dpop_jkt,
	auth_time, created_at, expires_at, family_id, used_at, nonce, acr, amr, sid, claims_request`

func scanCode(sc scanner) (*store.AuthCode, bool, error) {
	var (
		c                            store.AuthCode
		resources, amr               string
		authTime, created, exp, used sql.NullInt64
	)
	if err := sc.Scan(&c.Hash, &c.ClientID, &c.Subject, &c.RedirectURI, &c.Scope, &resources,
		&c.CodeChallenge, &c.DPoPJKT, &authTime, &created, &exp, &c.FamilyID, &used,
		&c.Nonce, &c.ACR, &amr, &c.SID, &c.ClaimsRequest); err != nil {
		return nil, false, err
	}
	c.AuthTime, c.CreatedAt, c.ExpiresAt = timeVal(authTime), timeVal(created), timeVal(exp)
	if err := jsonVals(resources, &c.Resources, amr, &c.AMR); err != nil {
		return nil, false, err
	}
	return &c, used.Valid, nil
}

// PutCode implements [store.Codes].
func (s *Store) PutCode(ctx context.Context, c *store.AuthCode) error {
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO auth_codes (`+codeCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)`),
		c.Hash, c.ClientID, c.Subject, c.RedirectURI, c.Scope, jsonArg(c.Resources), c.CodeChallenge,
		c.DPoPJKT, timeArg(c.AuthTime), timeArg(c.CreatedAt), timeArg(c.ExpiresAt), c.FamilyID,
		c.Nonce, c.ACR, jsonArg(c.AMR), c.SID, c.ClaimsRequest)
	if s.d.isUniqueViolation(err) {
		return fmt.Errorf("sqlstore: put code: %w", store.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: put code: %w", err)
	}
	return nil
}

// GetCode implements [store.Codes]. A redeemed code is reported as
// ErrAlreadyUsed (with the code) even after it has expired, so the caller
// can revoke its family.
func (s *Store) GetCode(ctx context.Context, hash []byte, now time.Time) (*store.AuthCode, error) {
	c, used, err := scanCode(s.r.QueryRowContext(ctx, s.q(`SELECT `+codeCols+` FROM auth_codes WHERE hash = ?`), hash))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("sqlstore: get code: %w", store.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("sqlstore: get code: %w", err)
	case used:
		return c, fmt.Errorf("sqlstore: get code: %w", store.ErrAlreadyUsed)
	case !now.Before(c.ExpiresAt):
		return nil, fmt.Errorf("sqlstore: get code: %w", store.ErrExpired)
	}
	return c, nil
}

// RedeemCode implements [store.Codes]. fam.ID is recorded as the code's
// FamilyID; an rt with an empty FamilyID is given fam.ID. A redemption that
// fails for any reason but reuse (expired, unknown, duplicate family)
// changes nothing.
func (s *Store) RedeemCode(ctx context.Context, hash []byte, fam *store.Family, rt *store.RefreshToken, now time.Time) error {
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// The conditional UPDATE is the single-use gate: of concurrent
		// callers, exactly one sees a row affected.
		res, err := tx.ExecContext(ctx, s.q(`UPDATE auth_codes SET used_at = ?, family_id = ?
			WHERE hash = ? AND used_at IS NULL AND expires_at > ?`),
			now.UnixNano(), fam.ID, hash, now.UnixNano())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			return insertFamily(ctx, s, tx, fam, rt)
		}
		// Not redeemed now: find out why.
		var (
			familyID string
			used     sql.NullInt64
		)
		err = tx.QueryRowContext(ctx, s.q(`SELECT family_id, used_at FROM auth_codes WHERE hash = ?`), hash).
			Scan(&familyID, &used)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return err
		case used.Valid:
			// RFC 9700 §4.5: a replayed code revokes the tokens issued
			// from it. Commit the revocation, then report the replay.
			if err := revokeFamily(ctx, s, tx, familyID, ReasonCodeReuse, now); err != nil {
				return err
			}
			return &commitThen{store.ErrAlreadyUsed}
		default:
			return store.ErrExpired
		}
	})
	if err != nil {
		return fmt.Errorf("sqlstore: redeem code: %w", err)
	}
	return nil
}

// familyCols: the family's columns; a family's OIDC.Nonce is not stored
// (refreshed ID tokens carry none, OIDC Core §12.2).
const familyCols = `id, client_id, subject, scope, resources, jkt, cert_thumbprint, auth_time,
	created_at, expires_at, revoked_at, revoked_reason, acr, amr, sid, claims_request`

func scanFamily(sc scanner, extra ...any) (*store.Family, error) {
	var (
		f                               store.Family
		resources, amr                  string
		authTime, created, exp, revoked sql.NullInt64
	)
	dest := append([]any{&f.ID, &f.ClientID, &f.Subject, &f.Scope, &resources, &f.JKT, &f.CertThumbprint,
		&authTime, &created, &exp, &revoked, &f.RevokedReason, &f.ACR, &amr, &f.SID, &f.ClaimsRequest}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	f.AuthTime, f.CreatedAt, f.ExpiresAt, f.RevokedAt = timeVal(authTime), timeVal(created), timeVal(exp), timeVal(revoked)
	if err := jsonVals(resources, &f.Resources, amr, &f.AMR); err != nil {
		return nil, err
	}
	return &f, nil
}

func insertFamily(ctx context.Context, s *Store, tx *sql.Tx, f *store.Family, rt *store.RefreshToken) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO families (`+familyCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		f.ID, f.ClientID, f.Subject, f.Scope, jsonArg(f.Resources), f.JKT, f.CertThumbprint,
		timeArg(f.AuthTime), timeArg(f.CreatedAt), timeArg(f.ExpiresAt), timeArg(f.RevokedAt), f.RevokedReason,
		f.ACR, jsonArg(f.AMR), f.SID, f.ClaimsRequest)
	if s.d.isUniqueViolation(err) {
		return fmt.Errorf("family %q: %w", f.ID, store.ErrAlreadyExists)
	}
	if err != nil {
		return err
	}
	if rt == nil {
		return nil
	}
	if rt.FamilyID == "" {
		rt.FamilyID = f.ID
	}
	if rt.FamilyID != f.ID {
		return fmt.Errorf("refresh token belongs to family %q, not %q", rt.FamilyID, f.ID)
	}
	return insertRefreshToken(ctx, s, tx, rt)
}

func insertRefreshToken(ctx context.Context, s *Store, tx *sql.Tx, rt *store.RefreshToken) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO refresh_tokens
		(hash, family_id, scope, created_at, expires_at, rotated_at) VALUES (?, ?, ?, ?, ?, ?)`),
		rt.Hash, rt.FamilyID, rt.Scope, timeArg(rt.CreatedAt), timeArg(rt.ExpiresAt), timeArg(rt.RotatedAt))
	if s.d.isUniqueViolation(err) {
		return fmt.Errorf("refresh token: %w", store.ErrAlreadyExists)
	}
	return err
}

// revokeFamily marks a live family revoked; an already revoked family keeps
// its first revocation time and reason.
func revokeFamily(ctx context.Context, s *Store, tx *sql.Tx, id, reason string, now time.Time) error {
	_, err := tx.ExecContext(ctx, s.q(`UPDATE families SET revoked_at = ?, revoked_reason = ?
		WHERE id = ? AND revoked_at IS NULL`), now.UnixNano(), reason, id)
	return err
}

// CreateFamily implements [store.Families]. An rt with an empty FamilyID is
// given fam.ID.
func (s *Store) CreateFamily(ctx context.Context, fam *store.Family, rt *store.RefreshToken) error {
	if err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error { return insertFamily(ctx, s, tx, fam, rt) }); err != nil {
		return fmt.Errorf("sqlstore: create family %q: %w", fam.ID, err)
	}
	return nil
}

// GetFamily implements [store.Families]; revoked and expired families are
// returned too.
func (s *Store) GetFamily(ctx context.Context, id string) (*store.Family, error) {
	f, err := scanFamily(s.r.QueryRowContext(ctx, s.q(`SELECT `+familyCols+` FROM families WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: get family %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get family %q: %w", id, err)
	}
	return f, nil
}

const refreshJoin = `SELECT f.id, f.client_id, f.subject, f.scope, f.resources, f.jkt, f.cert_thumbprint,
	f.auth_time, f.created_at, f.expires_at, f.revoked_at, f.revoked_reason,
	f.acr, f.amr, f.sid, f.claims_request,
	t.hash, t.scope, t.created_at, t.expires_at, t.rotated_at
	FROM refresh_tokens t JOIN families f ON f.id = t.family_id WHERE t.hash = ?`

func scanRefresh(sc scanner, extra ...any) (*store.RefreshToken, *store.Family, error) {
	var (
		t                     store.RefreshToken
		created, exp, rotated sql.NullInt64
	)
	f, err := scanFamily(sc, append([]any{&t.Hash, &t.Scope, &created, &exp, &rotated}, extra...)...)
	if err != nil {
		return nil, nil, err
	}
	t.FamilyID = f.ID
	t.CreatedAt, t.ExpiresAt, t.RotatedAt = timeVal(created), timeVal(exp), timeVal(rotated)
	return &t, f, nil
}

// GetRefreshToken implements [store.Families].
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte) (*store.RefreshToken, *store.Family, error) {
	t, f, err := scanRefresh(s.r.QueryRowContext(ctx, s.q(refreshJoin), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("sqlstore: get refresh token: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: get refresh token: %w", err)
	}
	return t, f, nil
}

// RotateRefreshToken implements [store.Families]. The checks run in this
// order: unknown token (ErrNotFound); token already rotated (the family is
// revoked, committed, and ErrAlreadyUsed returned, even when the family was
// revoked or expired already); family revoked (ErrRevoked); family or token
// expired (ErrExpired). next.FamilyID, when empty, is set to the family's
// ID. The returned family is the state after rotation.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash []byte, next *store.RefreshToken, now time.Time) (*store.Family, error) {
	fam, _, err := s.RotateRefreshTokenGrace(ctx, oldHash, next, now, 0)
	return fam, err
}

// rotateRead is refreshJoin with the successor, locking the token's row
// where the dialect can (lockRefresh).
const rotateRead = `SELECT f.id, f.client_id, f.subject, f.scope, f.resources, f.jkt, f.cert_thumbprint,
	f.auth_time, f.created_at, f.expires_at, f.revoked_at, f.revoked_reason,
	f.acr, f.amr, f.sid, f.claims_request,
	t.hash, t.scope, t.created_at, t.expires_at, t.rotated_at, t.successor_hash
	FROM refresh_tokens t JOIN families f ON f.id = t.family_id WHERE t.hash = ?`

// RotateRefreshTokenGrace implements [store.Families]: RotateRefreshToken,
// except that a token rotated less than grace ago whose successor is
// unused, in a live family, replaces that successor with next (reissued
// true) instead of revoking the family.
func (s *Store) RotateRefreshTokenGrace(ctx context.Context, oldHash []byte, next *store.RefreshToken, now time.Time, grace time.Duration) (*store.Family, bool, error) {
	var (
		fam      *store.Family
		reissued bool
	)
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		fam, reissued = nil, false
		var successor []byte
		old, f, err := scanRefresh(tx.QueryRowContext(ctx, s.q(rotateRead+s.d.lockRefresh), oldHash), &successor)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if next.FamilyID == "" {
			next.FamilyID = f.ID
		}
		if next.FamilyID != f.ID {
			return fmt.Errorf("next refresh token belongs to family %q, not %q", next.FamilyID, f.ID)
		}
		live := !f.Revoked() && (f.ExpiresAt.IsZero() || now.Before(f.ExpiresAt))
		switch {
		case !old.RotatedAt.IsZero() && grace > 0 && live && successor != nil && now.Before(old.RotatedAt.Add(grace)):
			reissued = true
			err = s.replaceSuccessor(ctx, tx, oldHash, successor, next, now)
		case !old.RotatedAt.IsZero():
			err = errReuse
		case f.Revoked():
			return fmt.Errorf("family %q: %w", f.ID, store.ErrRevoked)
		case !f.ExpiresAt.IsZero() && !now.Before(f.ExpiresAt):
			return fmt.Errorf("family %q: %w", f.ID, store.ErrExpired)
		case !old.ExpiresAt.IsZero() && !now.Before(old.ExpiresAt):
			return fmt.Errorf("refresh token: %w", store.ErrExpired)
		default:
			err = s.rotate(ctx, tx, oldHash, next, now)
		}
		if errors.Is(err, errReuse) {
			// RFC 9700 §4.14.2: commit the revocation, then report it.
			if err := revokeFamily(ctx, s, tx, f.ID, ReasonRefreshTokenReuse, now); err != nil {
				return err
			}
			return &commitThen{fmt.Errorf("family %q: %w", f.ID, store.ErrAlreadyUsed)}
		}
		if err != nil {
			return err
		}
		fam = f
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("sqlstore: rotate refresh token: %w", err)
	}
	return fam, reissued, nil
}

// errReuse: inside a rotation, the token or its successor was used
// already; the family is revoked.
var errReuse = errors.New("reuse")

// rotate marks old rotated, naming next its successor, and stores next.
// The conditional UPDATE is the single-use gate: under SQLite's BEGIN
// IMMEDIATE and PostgreSQL's row lock (lockRefresh) it always matches here;
// were the row not locked, a concurrent winner would make it match nothing,
// which is a reuse like any other.
func (s *Store) rotate(ctx context.Context, tx *sql.Tx, oldHash []byte, next *store.RefreshToken, now time.Time) error {
	if err := gate(tx.ExecContext(ctx, s.q(`UPDATE refresh_tokens SET rotated_at = ?, successor_hash = ?
		WHERE hash = ? AND rotated_at IS NULL`), now.UnixNano(), next.Hash, oldHash)); err != nil {
		return err
	}
	return insertRefreshToken(ctx, s, tx, next)
}

// replaceSuccessor is the grace re-issue: the unused successor is marked
// used with no successor of its own (so presenting it is a reuse), old
// names next instead, and next is stored. The successor's conditional
// UPDATE is the gate: a successor redeemed meanwhile is a reuse.
func (s *Store) replaceSuccessor(ctx context.Context, tx *sql.Tx, oldHash, successor []byte, next *store.RefreshToken, now time.Time) error {
	if err := gate(tx.ExecContext(ctx, s.q(`UPDATE refresh_tokens SET rotated_at = ?
		WHERE hash = ? AND family_id = ? AND rotated_at IS NULL`), now.UnixNano(), successor, next.FamilyID)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE refresh_tokens SET successor_hash = ? WHERE hash = ?`), next.Hash, oldHash); err != nil {
		return err
	}
	return insertRefreshToken(ctx, s, tx, next)
}

// gate turns a conditional UPDATE's result into errReuse unless it changed
// exactly one row.
func gate(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return errReuse
	}
	return nil
}

// RevokeFamily implements [store.Families]. Revoking a revoked family
// changes nothing (the first time and reason are kept); ErrNotFound for an
// unknown family.
func (s *Store) RevokeFamily(ctx context.Context, id, reason string, now time.Time) error {
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := revokeFamily(ctx, s, tx, id, reason, now); err != nil {
			return err
		}
		var one int
		err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM families WHERE id = ?`), id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: revoke family %q: %w", id, err)
	}
	return nil
}

// ListFamilies implements [store.Families]: every family of subject,
// revoked and expired ones included, oldest first.
func (s *Store) ListFamilies(ctx context.Context, subject string) ([]*store.Family, error) {
	return queryAll(ctx, s, "list families", `SELECT `+familyCols+` FROM families WHERE subject = ?
		ORDER BY created_at, id`, func(sc scanner) (*store.Family, error) { return scanFamily(sc) }, subject)
}

// ListFamiliesBySID implements [store.Families]: every family created in
// the session sid, revoked and expired ones included, oldest first. An
// empty sid (families from before OpenID Connect, client credentials)
// matches none.
func (s *Store) ListFamiliesBySID(ctx context.Context, sid string) ([]*store.Family, error) {
	if sid == "" {
		return nil, nil
	}
	return queryAll(ctx, s, "list families by sid", `SELECT `+familyCols+` FROM families WHERE sid = ?
		ORDER BY created_at, id`, func(sc scanner) (*store.Family, error) { return scanFamily(sc) }, sid)
}
