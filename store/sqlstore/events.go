package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/wardauth/ward/store"
)

// AppendEvents implements [store.Events].
func (s *Store) AppendEvents(ctx context.Context, events []store.SecurityEvent) error {
	if len(events) == 0 {
		return nil
	}
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, s.q(`INSERT INTO security_events
			(at, type, severity, instance, client_id, subject, jkt, family_id, client_addr, route, reason, expires_at, actor)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range events {
			if _, err := stmt.ExecContext(ctx, e.Time.UnixNano(), e.Type, e.Severity, e.Instance, e.ClientID,
				e.Subject, e.JKT, e.FamilyID, e.ClientAddr, e.Route, e.Reason, e.Expires.UnixNano(), e.Actor); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: append %d security events: %w", len(events), err)
	}
	return nil
}

// ListEvents implements [store.Events]: newest first, by the time index,
// or the (type, time) index when types are named.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]store.SecurityEvent, error) {
	where, args := []string{"at >= ?"}, []any{f.Since.UnixNano()}
	if f.Since.IsZero() {
		args[0] = int64(0)
	}
	if len(f.Types) > 0 {
		where = append(where, "type IN (?"+strings.Repeat(", ?", len(f.Types)-1)+")")
		for _, t := range f.Types {
			args = append(args, t)
		}
	}
	if f.ClientID != "" {
		where, args = append(where, "client_id = ?"), append(args, f.ClientID)
	}
	if f.Subject != "" {
		where, args = append(where, "subject = ?"), append(args, f.Subject)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	query := `SELECT id, at, type, severity, instance, client_id, subject, jkt, family_id, client_addr, route, reason, expires_at, actor
		FROM security_events WHERE ` + strings.Join(where, " AND ") + ` ORDER BY at DESC, id DESC LIMIT ?`
	return queryAll(ctx, s, "list security events", query, scanEvent, append(args, limit)...)
}

func scanEvent(sc scanner) (store.SecurityEvent, error) {
	var e store.SecurityEvent
	var at, exp int64
	err := sc.Scan(&e.ID, &at, &e.Type, &e.Severity, &e.Instance, &e.ClientID, &e.Subject, &e.JKT,
		&e.FamilyID, &e.ClientAddr, &e.Route, &e.Reason, &exp, &e.Actor)
	e.Time, e.Expires = time.Unix(0, at), time.Unix(0, exp)
	return e, err
}
