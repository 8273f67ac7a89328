package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wardauth/ward/store"
)

const userCols = `subject, username, password_hash, static, created_at, updated_at, claims`

func userArgs(u *store.User) ([]any, error) {
	claims, err := json.Marshal(&u.Claims)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: user %q: encode claims: %w", u.Subject, err)
	}
	return []any{u.Subject, u.Username, u.PasswordHash, u.Static, timeArg(u.CreatedAt), timeArg(u.UpdatedAt), string(claims)}, nil
}

func scanUser(sc scanner) (*store.User, error) {
	var (
		u                store.User
		created, updated sql.NullInt64
		claims           string
	)
	if err := sc.Scan(&u.Subject, &u.Username, &u.PasswordHash, &u.Static, &created, &updated, &claims); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = timeVal(created), timeVal(updated)
	if err := json.Unmarshal([]byte(claims), &u.Claims); err != nil {
		return nil, fmt.Errorf("sqlstore: decode claims of %q: %w", u.Subject, err)
	}
	return &u, nil
}

// CreateUser implements [store.Users]: ErrAlreadyExists when the subject or
// the username is taken.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	args, err := userArgs(u)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, s.q(`INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`), args...)
	if s.d.isUniqueViolation(err) {
		return fmt.Errorf("sqlstore: create user %q: %w", u.Subject, store.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create user %q: %w", u.Subject, err)
	}
	return nil
}

// UpsertUser implements [store.Users]. A replaced user keeps its original
// CreatedAt; ErrAlreadyExists when the username belongs to another subject.
func (s *Store) UpsertUser(ctx context.Context, u *store.User) error {
	args, err := userArgs(u)
	if err != nil {
		return err
	}
	// Two instances declaring the same static user at once: PostgreSQL's
	// ON CONFLICT arbitrates only the subject, so the loser may hit the
	// username index instead. By then the winner has committed, and a
	// second attempt takes the ON CONFLICT path; a username that belongs
	// to another subject fails again.
	for attempt := 0; attempt < 2; attempt++ {
		_, err = s.w.ExecContext(ctx, s.q(`INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (subject) DO UPDATE SET
			username = excluded.username, password_hash = excluded.password_hash,
			static = excluded.static, updated_at = excluded.updated_at, claims = excluded.claims`), args...)
		if !s.d.isUniqueViolation(err) {
			break
		}
	}
	if s.d.isUniqueViolation(err) {
		return fmt.Errorf("sqlstore: upsert user %q: username %q: %w", u.Subject, u.Username, store.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: upsert user %q: %w", u.Subject, err)
	}
	return nil
}

// GetUser implements [store.Users].
func (s *Store) GetUser(ctx context.Context, subject string) (*store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, s.q(`SELECT `+userCols+` FROM users WHERE subject = ?`), subject))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: get user %q: %w", subject, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get user %q: %w", subject, err)
	}
	return u, nil
}

// GetUserByUsername implements [store.Users]. Usernames match exactly.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (*store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, s.q(`SELECT `+userCols+` FROM users WHERE username = ?`), username))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: get user by username %q: %w", username, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get user by username %q: %w", username, err)
	}
	return u, nil
}

// ListUsers implements [store.Users], ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]*store.User, error) {
	return queryAll(ctx, s, "list users", `SELECT `+userCols+` FROM users ORDER BY username`, scanUser)
}

// SetPassword implements [store.Users]: ErrNotFound for an unknown subject.
func (s *Store) SetPassword(ctx context.Context, subject, hash string, now time.Time) error {
	if err := exec1(ctx, s.w, s.q(`UPDATE users SET password_hash = ?, updated_at = ? WHERE subject = ?`),
		store.ErrNotFound, hash, timeArg(now), subject); err != nil {
		return fmt.Errorf("sqlstore: set password of %q: %w", subject, err)
	}
	return nil
}

// DeleteUser implements [store.Users]: ErrNotFound for an unknown subject.
func (s *Store) DeleteUser(ctx context.Context, subject string) error {
	if err := exec1(ctx, s.w, s.q(`DELETE FROM users WHERE subject = ?`), store.ErrNotFound, subject); err != nil {
		return fmt.Errorf("sqlstore: delete user %q: %w", subject, err)
	}
	return nil
}
