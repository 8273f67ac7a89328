package secevent

import (
	"context"
	"time"

	"github.com/wardauth/ward/store"
)

// DefaultRetention is how long StoreSink keeps an event when its
// Retention is zero (events.retention).
const DefaultRetention = 30 * 24 * time.Hour

// StoreSink writes events to the store (the security_events table), each
// kept for Retention; the authorization server's sweep (DeleteExpired)
// removes them after that. `ward events` lists them.
type StoreSink struct {
	Store     store.Events
	Retention time.Duration
}

var _ Sink = StoreSink{}

// Write implements Sink: one transaction a batch.
func (s StoreSink) Write(ctx context.Context, events []Event) error {
	keep := s.Retention
	if keep <= 0 {
		keep = DefaultRetention
	}
	rows := make([]store.SecurityEvent, len(events))
	for i, e := range events {
		rows[i] = store.SecurityEvent{Time: e.Time, Type: string(e.Type), Severity: string(e.Severity),
			Instance: e.Instance, ClientID: e.ClientID, Subject: e.Subject, JKT: e.JKT, FamilyID: e.FamilyID,
			ClientAddr: e.ClientAddr, Route: e.Route, Reason: e.Reason, Expires: e.Time.Add(keep)}
	}
	return s.Store.AppendEvents(ctx, rows)
}
