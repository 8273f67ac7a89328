package secevent

import (
	"context"
	"time"

	"github.com/wardauth/ward/internal/loglimit"
	"github.com/wardauth/ward/store"
)

// DefaultRetention is how long StoreSink keeps an event when its
// Retention is zero (events.retention).
const DefaultRetention = 30 * 24 * time.Hour

// Store rate per event type (StoreSink.Limit as ward serve builds it):
// some events need no token (nonce_failure, proof_replayed at /token;
// login_failed), so without a bound a client would write one row a
// request, each kept for the retention.
const (
	StoreRate  = 10   // events a second of one type, sustained
	StoreBurst = 1000 // events of one type at once
)

// StoreSink writes events to the store (the security_events table), each
// kept for Retention; the authorization server's sweep (DeleteExpired)
// removes them after that. `ward events` lists them.
type StoreSink struct {
	Store     store.Events
	Retention time.Duration
	// Limit, when set, bounds the rows of each event type (a token
	// bucket a type): past it an event is not stored (the log sink still
	// has it), so a flood of one type neither fills the table nor crowds
	// out another type.
	Limit *loglimit.Limiter
}

var _ Sink = StoreSink{}

// Write implements Sink: one transaction a batch.
func (s StoreSink) Write(ctx context.Context, events []Event) error {
	keep := s.Retention
	if keep <= 0 {
		keep = DefaultRetention
	}
	rows := make([]store.SecurityEvent, 0, len(events))
	for _, e := range events {
		if s.Limit != nil {
			if ok, _ := s.Limit.Allow(string(e.Type)); !ok {
				continue
			}
		}
		rows = append(rows, store.SecurityEvent{Time: e.Time, Type: string(e.Type), Severity: string(e.Severity),
			Instance: e.Instance, ClientID: e.ClientID, Subject: e.Subject, JKT: e.JKT, FamilyID: e.FamilyID,
			ClientAddr: e.ClientAddr, Route: e.Route, Reason: e.Reason, Actor: e.Actor, Expires: e.Time.Add(keep)})
	}
	if len(rows) == 0 {
		return nil
	}
	return s.Store.AppendEvents(ctx, rows)
}
