package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/wardauth/ward/store"
)

// RevokeAccessToken implements [store.AccessTokens]. Revoking a jti twice
// keeps the later expiry and the first revocation time.
func (s *Store) RevokeAccessToken(ctx context.Context, jti string, exp, now time.Time) error {
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO revoked_access_tokens (jti, expires_at, revoked_at) VALUES (?, ?, ?)
		ON CONFLICT (jti) DO UPDATE SET expires_at = CASE
			WHEN excluded.expires_at > revoked_access_tokens.expires_at THEN excluded.expires_at
			ELSE revoked_access_tokens.expires_at END`), jti, exp.UnixNano(), now.UnixNano())
	if err != nil {
		return fmt.Errorf("sqlstore: revoke access token %q: %w", jti, err)
	}
	return nil
}

// AccessTokenRevoked implements [store.AccessTokens]. A revocation is
// remembered until DeleteExpired removes it after the token's expiry.
func (s *Store) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, s.q(`SELECT 1 FROM revoked_access_tokens WHERE jti = ?`), jti).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlstore: access token revoked %q: %w", jti, err)
	}
	return true, nil
}

// UseOnce implements [store.OneTime]. It is one statement: the insert
// succeeds, or replaces a row whose expiry has passed at now, or affects
// nothing, which is ErrAlreadyUsed. A key recorded with an exp already past
// counts as expired: callers reject expired assertions before calling
// UseOnce.
func (s *Store) UseOnce(ctx context.Context, key string, exp, now time.Time) error {
	res, err := s.w.ExecContext(ctx, s.q(`INSERT INTO one_time (key, expires_at) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
		WHERE one_time.expires_at <= ?`), key, exp.UnixNano(), now.UnixNano())
	if err != nil {
		return fmt.Errorf("sqlstore: use once %q: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: use once %q: %w", key, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: use once %q: %w", key, store.ErrAlreadyUsed)
	}
	return nil
}

// PutPAR implements [store.PARs]: ErrAlreadyExists for a duplicate ID.
func (s *Store) PutPAR(ctx context.Context, p *store.PARRequest) error {
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO par_requests (id, client_id, params, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`), p.ID, p.ClientID, p.Params, timeArg(p.CreatedAt), timeArg(p.ExpiresAt))
	if s.d.isUniqueViolation(err) {
		return fmt.Errorf("sqlstore: put PAR: %w", store.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: put PAR: %w", err)
	}
	return nil
}

// ConsumePAR implements [store.PARs]. The row is deleted by a single
// DELETE ... RETURNING conditioned on the client, so of concurrent callers
// exactly one gets it and a caller naming another client deletes nothing;
// an expired request is deleted too and reported as ErrExpired.
func (s *Store) ConsumePAR(ctx context.Context, id, clientID string, now time.Time) (*store.PARRequest, error) {
	var (
		p            store.PARRequest
		created, exp sql.NullInt64
	)
	err := s.w.QueryRowContext(ctx, s.q(`DELETE FROM par_requests WHERE id = ? AND client_id = ?
		RETURNING id, client_id, params, created_at, expires_at`), id, clientID).
		Scan(&p.ID, &p.ClientID, &p.Params, &created, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: consume PAR: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: consume PAR: %w", err)
	}
	p.CreatedAt, p.ExpiresAt = timeVal(created), timeVal(exp)
	if !now.Before(p.ExpiresAt) {
		return nil, fmt.Errorf("sqlstore: consume PAR: %w", store.ErrExpired)
	}
	return &p, nil
}

func scanConsent(sc scanner) (*store.Consent, error) {
	var (
		c       store.Consent
		scopes  string
		granted sql.NullInt64
	)
	if err := sc.Scan(&c.Subject, &c.ClientID, &scopes, &granted); err != nil {
		return nil, err
	}
	c.GrantedAt = timeVal(granted)
	var err error
	if c.Scopes, err = jsonVal[string](scopes); err != nil {
		return nil, err
	}
	return &c, nil
}

// GrantConsent implements [store.Consents]: c.Scopes are added to the
// stored ones (stored first, in order, then new ones), and GrantedAt is set
// to c.GrantedAt.
func (s *Store) GrantConsent(ctx context.Context, c *store.Consent) error {
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		scopes := slices.Clone(c.Scopes)
		old, err := scanConsent(tx.QueryRowContext(ctx, s.q(`SELECT subject, client_id, scopes, granted_at
			FROM consents WHERE subject = ? AND client_id = ?`), c.Subject, c.ClientID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			scopes = old.Scopes
			for _, sc := range c.Scopes {
				if !slices.Contains(scopes, sc) {
					scopes = append(scopes, sc)
				}
			}
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO consents (subject, client_id, scopes, granted_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (subject, client_id) DO UPDATE SET
				scopes = excluded.scopes, granted_at = excluded.granted_at`),
			c.Subject, c.ClientID, jsonArg(scopes), timeArg(c.GrantedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: grant consent %q/%q: %w", c.Subject, c.ClientID, err)
	}
	return nil
}

// GetConsent implements [store.Consents]: ErrNotFound when none.
func (s *Store) GetConsent(ctx context.Context, subject, clientID string) (*store.Consent, error) {
	c, err := scanConsent(s.r.QueryRowContext(ctx, s.q(`SELECT subject, client_id, scopes, granted_at
		FROM consents WHERE subject = ? AND client_id = ?`), subject, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: get consent %q/%q: %w", subject, clientID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get consent %q/%q: %w", subject, clientID, err)
	}
	return c, nil
}

// ListConsents implements [store.Consents], ordered by client ID.
func (s *Store) ListConsents(ctx context.Context, subject string) ([]*store.Consent, error) {
	return queryAll(ctx, s, "list consents", `SELECT subject, client_id, scopes, granted_at
		FROM consents WHERE subject = ? ORDER BY client_id`, scanConsent, subject)
}

// RevokeConsent implements [store.Consents]; revoking absent consent is not
// an error.
func (s *Store) RevokeConsent(ctx context.Context, subject, clientID string) error {
	if _, err := s.w.ExecContext(ctx, s.q(`DELETE FROM consents WHERE subject = ? AND client_id = ?`),
		subject, clientID); err != nil {
		return fmt.Errorf("sqlstore: revoke consent %q/%q: %w", subject, clientID, err)
	}
	return nil
}

// PutSession implements [store.Sessions]: ErrAlreadyExists for a duplicate
// hash.
func (s *Store) PutSession(ctx context.Context, ss *store.Session) error {
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO sessions (hash, subject, auth_time, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`), ss.Hash, ss.Subject, timeArg(ss.AuthTime), timeArg(ss.CreatedAt), timeArg(ss.ExpiresAt))
	if s.d.isUniqueViolation(err) {
		return fmt.Errorf("sqlstore: put session: %w", store.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: put session: %w", err)
	}
	return nil
}

// GetSession implements [store.Sessions]: ErrNotFound or ErrExpired.
func (s *Store) GetSession(ctx context.Context, hash []byte, now time.Time) (*store.Session, error) {
	var (
		ss                     store.Session
		authTime, created, exp sql.NullInt64
	)
	err := s.r.QueryRowContext(ctx, s.q(`SELECT hash, subject, auth_time, created_at, expires_at
		FROM sessions WHERE hash = ?`), hash).Scan(&ss.Hash, &ss.Subject, &authTime, &created, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: get session: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get session: %w", err)
	}
	ss.AuthTime, ss.CreatedAt, ss.ExpiresAt = timeVal(authTime), timeVal(created), timeVal(exp)
	if !now.Before(ss.ExpiresAt) {
		return nil, fmt.Errorf("sqlstore: get session: %w", store.ErrExpired)
	}
	return &ss, nil
}

// DeleteSession implements [store.Sessions]; deleting an absent session is
// not an error (logout is idempotent).
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := s.w.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE hash = ?`), hash); err != nil {
		return fmt.Errorf("sqlstore: delete session: %w", err)
	}
	return nil
}

// ListSessions implements [store.Sessions] (by the sessions_subject
// index of migration 0007).
func (s *Store) ListSessions(ctx context.Context, subject string, now time.Time) ([]*store.Session, error) {
	return queryAll(ctx, s, "list sessions", `SELECT hash, subject, auth_time, created_at, expires_at
		FROM sessions WHERE subject = ? AND expires_at > ? ORDER BY created_at, hash`, func(sc scanner) (*store.Session, error) {
		var (
			ss                     store.Session
			authTime, created, exp sql.NullInt64
		)
		if err := sc.Scan(&ss.Hash, &ss.Subject, &authTime, &created, &exp); err != nil {
			return nil, err
		}
		ss.AuthTime, ss.CreatedAt, ss.ExpiresAt = timeVal(authTime), timeVal(created), timeVal(exp)
		return &ss, nil
	}, subject, now.UnixNano())
}

const keyCols = `id, algorithm, public_jwk, private_enc, created_at, activates_at, retires_at, expires_at`

func keyArgs(k *store.SigningKey) []any {
	return []any{k.ID, k.Algorithm, k.PublicJWK, k.PrivateEnc, timeArg(k.CreatedAt),
		timeArg(k.ActivatesAt), timeArg(k.RetiresAt), timeArg(k.ExpiresAt)}
}

// PutSigningKey implements [store.SigningKeys].
func (s *Store) PutSigningKey(ctx context.Context, k *store.SigningKey) error {
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO signing_keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), keyArgs(k)...)
	if s.d.isUniqueViolation(err) {
		return fmt.Errorf("sqlstore: put signing key %q: %w", k.ID, store.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: put signing key %q: %w", k.ID, err)
	}
	return nil
}

// UpdateSigningKey implements [store.SigningKeys]: every field but ID is
// replaced.
func (s *Store) UpdateSigningKey(ctx context.Context, k *store.SigningKey) error {
	args := append(keyArgs(k)[1:], k.ID)
	if err := exec1(ctx, s.w, s.q(`UPDATE signing_keys SET algorithm = ?, public_jwk = ?, private_enc = ?,
		created_at = ?, activates_at = ?, retires_at = ?, expires_at = ? WHERE id = ?`), store.ErrNotFound, args...); err != nil {
		return fmt.Errorf("sqlstore: update signing key %q: %w", k.ID, err)
	}
	return nil
}

// ListSigningKeys implements [store.SigningKeys], oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]*store.SigningKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+keyCols+` FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list signing keys: %w", err)
	}
	defer rows.Close()
	var out []*store.SigningKey
	for rows.Next() {
		var (
			k                               store.SigningKey
			created, activates, retires, ex sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PublicJWK, &k.PrivateEnc, &created, &activates, &retires, &ex); err != nil {
			return nil, fmt.Errorf("sqlstore: list signing keys: %w", err)
		}
		k.CreatedAt, k.ActivatesAt, k.RetiresAt, k.ExpiresAt = timeVal(created), timeVal(activates), timeVal(retires), timeVal(ex)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list signing keys: %w", err)
	}
	return out, nil
}

// DeleteSigningKey implements [store.SigningKeys]: ErrNotFound for an
// unknown ID.
func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	if err := exec1(ctx, s.w, s.q(`DELETE FROM signing_keys WHERE id = ?`), store.ErrNotFound, id); err != nil {
		return fmt.Errorf("sqlstore: delete signing key %q: %w", id, err)
	}
	return nil
}

// retention is store.RevokedFamilyRetention in the stored unit
// (nanoseconds), as an SQL literal.
var retention = strconv.FormatInt(int64(store.RevokedFamilyRetention), 10)

// expiry lists what DeleteExpired removes, one batched DELETE each. Every
// statement takes (now, batch). Refresh tokens go with their family's
// absolute expiry, not their own: a rotated token must stay while its
// family lives, so that replaying it is detected as reuse. A family is
// removed once it has no refresh tokens left, and a revoked one not
// before store.RevokedFamilyRetention after its revocation (the
// revocation feed lists it while its access tokens may live). Signing keys are never
// removed here; the keys package retires them.
var expiry = []expiryStmt{
	{"codes", `DELETE FROM auth_codes WHERE hash IN
		(SELECT hash FROM auth_codes WHERE expires_at <= ? LIMIT ?)`},
	{"refresh tokens", `DELETE FROM refresh_tokens WHERE hash IN
		(SELECT t.hash FROM refresh_tokens t JOIN families f ON f.id = t.family_id
		 WHERE f.expires_at <= ? LIMIT ?)`},
	{"families", `DELETE FROM families WHERE id IN
		(SELECT f.id FROM families f WHERE f.expires_at <= ?
		 AND (f.revoked_at IS NULL OR f.expires_at > f.revoked_at + ` + retention + `)
		 AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id) LIMIT ?)`},
	{"revoked families", `DELETE FROM families WHERE id IN
		(SELECT f.id FROM families f WHERE f.revoked_at <= ? - ` + retention + `
		 AND f.expires_at <= f.revoked_at + ` + retention + `
		 AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id) LIMIT ?)`},
	{"PAR requests", `DELETE FROM par_requests WHERE id IN
		(SELECT id FROM par_requests WHERE expires_at <= ? LIMIT ?)`},
	{"one-time values", `DELETE FROM one_time WHERE key IN
		(SELECT key FROM one_time WHERE expires_at <= ? LIMIT ?)`},
	{"device grants", `DELETE FROM device_grants WHERE hash IN
		(SELECT hash FROM device_grants WHERE expires_at <= ? LIMIT ?)`},
	{"revoked access tokens", `DELETE FROM revoked_access_tokens WHERE jti IN
		(SELECT jti FROM revoked_access_tokens WHERE expires_at <= ? LIMIT ?)`},
	{"sessions", `DELETE FROM sessions WHERE hash IN
		(SELECT hash FROM sessions WHERE expires_at <= ? LIMIT ?)`},
	{"logout deliveries", `DELETE FROM logout_outbox WHERE id IN
		(SELECT id FROM logout_outbox WHERE expires_at <= ? LIMIT ?)`},
	{"security events", `DELETE FROM security_events WHERE id IN
		(SELECT id FROM security_events WHERE expires_at <= ? LIMIT ?)`},
	{"dynamic clients", `DELETE FROM clients WHERE id IN
		(SELECT c.id FROM clients c WHERE c.dynamic AND c.expires_at <= ?
		 AND NOT EXISTS (SELECT 1 FROM families f WHERE f.client_id = c.id) LIMIT ?)`},
	{"initial access tokens", `DELETE FROM initial_access_tokens WHERE hash IN
		(SELECT hash FROM initial_access_tokens WHERE expires_at <= ? LIMIT ?)`}}

// expiryStmt is one DeleteExpired statement; a dialect may have its own
// list (PostgreSQL adds FOR UPDATE SKIP LOCKED, see postgres.go).
type expiryStmt struct{ kind, query string }

// DeleteExpired implements [store.Store]. Each kind is one statement in its
// own transaction, so write locks stay short and several instances can run
// it at once.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, batch int) (int, error) {
	if batch <= 0 {
		return 0, fmt.Errorf("sqlstore: delete expired: batch %d must be positive", batch)
	}
	total := 0
	for _, e := range s.d.expiry {
		var n int64
		err := s.retry(ctx, func() error {
			res, err := s.w.ExecContext(ctx, s.q(e.query), now.UnixNano(), batch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("sqlstore: delete expired %s: %w", e.kind, err)
		}
		total += int(n)
	}
	return total, nil
}

// ListRevocations implements [store.RevocationLog]: the two kinds are
// read apart, each by its revoked_at index, then merged.
func (s *Store) ListRevocations(ctx context.Context, since time.Time, limit int) ([]store.Revocation, error) {
	jtis, err := queryAll(ctx, s, "list revoked access tokens", `SELECT jti, revoked_at, expires_at FROM revoked_access_tokens
		WHERE revoked_at >= ? ORDER BY revoked_at, jti LIMIT ?`, func(sc scanner) (store.Revocation, error) {
		var r store.Revocation
		var at, exp int64
		err := sc.Scan(&r.JTI, &at, &exp)
		r.RevokedAt, r.Expires = time.Unix(0, at), time.Unix(0, exp)
		return r, err
	}, since.UnixNano(), limit)
	if err != nil {
		return nil, err
	}
	grants, err := queryAll(ctx, s, "list revoked families", `SELECT id, revoked_at FROM families
		WHERE revoked_at IS NOT NULL AND revoked_at >= ? ORDER BY revoked_at, id LIMIT ?`, func(sc scanner) (store.Revocation, error) {
		var r store.Revocation
		var at int64
		err := sc.Scan(&r.GrantID, &at)
		r.RevokedAt = time.Unix(0, at)
		return r, err
	}, since.UnixNano(), limit)
	if err != nil {
		return nil, err
	}
	out := append(jtis, grants...)
	slices.SortStableFunc(out, func(a, b store.Revocation) int { return a.RevokedAt.Compare(b.RevokedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
