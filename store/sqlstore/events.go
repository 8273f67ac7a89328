package sqlstore

import (
	"context"
	"database/sql"
	"errors"
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

const eventColumns = `id, at, type, severity, instance, client_id, subject, jkt, family_id, client_addr, route, reason, expires_at, actor`

// ListEvents implements [store.Events]: newest first, by the time index,
// or the (type, time), (client, time) or (subject, time) index when
// those are named. A page after a cursor continues the (at, id) order.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]store.SecurityEvent, error) {
	where, args := eventWhere(f)
	if !f.After.IsZero() {
		at := f.After.Time.UnixNano()
		where = append(where, "(at < ? OR (at = ? AND id < ?))")
		args = append(args, at, at, f.After.ID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	query := `SELECT ` + eventColumns + ` FROM security_events WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY at DESC, id DESC LIMIT ?`
	return queryAll(ctx, s, "list security events", query, scanEvent, append(args, limit)...)
}

// eventWhere renders f's conditions (not After) as placeholders and
// their arguments: no value of f becomes text of the query.
func eventWhere(f store.EventFilter) ([]string, []any) {
	where, args := []string{"at >= ?"}, []any{f.Since.UnixNano()}
	if f.Since.IsZero() {
		args[0] = int64(0)
	}
	if !f.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, f.Until.UnixNano())
	}
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		where = append(where, col+" IN (?"+strings.Repeat(", ?", len(vals)-1)+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	in("type", f.Types)
	in("severity", f.Severities)
	if f.ClientID != "" {
		where, args = append(where, "client_id = ?"), append(args, f.ClientID)
	}
	if f.Subject != "" {
		where, args = append(where, "subject = ?"), append(args, f.Subject)
	}
	return where, args
}

// GetEvent implements [store.Events].
func (s *Store) GetEvent(ctx context.Context, id int64) (store.SecurityEvent, error) {
	e, err := scanEvent(s.r.QueryRowContext(ctx, s.q(`SELECT `+eventColumns+` FROM security_events WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("sqlstore: get security event %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("sqlstore: get security event %d: %w", id, err)
	}
	return e, nil
}

// CountEvents implements [store.Events]: one GROUP BY over the time (or
// type and time) index; the bucket is the integer quotient of the time
// in nanoseconds by the step.
func (s *Store) CountEvents(ctx context.Context, f store.EventFilter, step time.Duration) ([]store.EventCount, error) {
	if step < time.Second {
		return nil, fmt.Errorf("sqlstore: count security events: step %v below one second", step)
	}
	where, args := eventWhere(f)
	query := `SELECT at / ?, type, COUNT(*) FROM security_events WHERE ` + strings.Join(where, " AND ") +
		` GROUP BY 1, 2 ORDER BY 1, 2`
	scan := func(sc scanner) (store.EventCount, error) {
		var c store.EventCount
		var b int64
		err := sc.Scan(&b, &c.Type, &c.Count)
		c.Start = time.Unix(0, b*int64(step))
		return c, err
	}
	return queryAll(ctx, s, "count security events", query, scan, append([]any{int64(step)}, args...)...)
}

// TopEventClients implements [store.Events].
func (s *Store) TopEventClients(ctx context.Context, f store.EventFilter, n int) ([]store.EventClientCount, error) {
	if n <= 0 {
		return nil, nil
	}
	where, args := eventWhere(f)
	where = append(where, "client_id <> ''")
	query := `SELECT client_id, COUNT(*) FROM security_events WHERE ` + strings.Join(where, " AND ") +
		` GROUP BY client_id ORDER BY 2 DESC, 1 LIMIT ?`
	scan := func(sc scanner) (store.EventClientCount, error) {
		var c store.EventClientCount
		return c, sc.Scan(&c.ClientID, &c.Count)
	}
	return queryAll(ctx, s, "top security event clients", query, scan, append(args, n)...)
}

func scanEvent(sc scanner) (store.SecurityEvent, error) {
	var e store.SecurityEvent
	var at, exp int64
	err := sc.Scan(&e.ID, &at, &e.Type, &e.Severity, &e.Instance, &e.ClientID, &e.Subject, &e.JKT,
		&e.FamilyID, &e.ClientAddr, &e.Route, &e.Reason, &exp, &e.Actor)
	e.Time, e.Expires = time.Unix(0, at), time.Unix(0, exp)
	return e, err
}
