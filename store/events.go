package store

import (
	"context"
	"time"
)

// SecurityEvent is a stored security event (package secevent's Event,
// docs/EVENTS.md). It never holds a token or a secret.
type SecurityEvent struct {
	ID                               int64 // assigned by the store, increasing
	Time                             time.Time
	Type, Severity, Instance         string
	ClientID, Subject, JKT, FamilyID string
	ClientAddr, Route, Reason        string
	// Actor is the operator whose action the event records (the admin
	// console's changes); empty otherwise.
	Actor string
	// Expires is when DeleteExpired may remove the event: its time plus
	// the configured retention (events.retention).
	Expires time.Time
}

// EventCursor marks a place in the newest-first list of events: the
// event with this time and ID. The zero cursor marks the start.
type EventCursor struct {
	Time time.Time
	ID   int64
}

// IsZero reports whether c marks the start of the list.
func (c EventCursor) IsZero() bool { return c.ID == 0 && c.Time.IsZero() }

// EventFilter selects events for ListEvents and CountEvents; zero fields
// select all. Every value is a bound parameter of the query, never text
// of it.
type EventFilter struct {
	Types             []string
	Severities        []string
	ClientID, Subject string
	// Since: events at or after this time.
	Since time.Time
	// Until: events strictly before this time.
	Until time.Time
	// After, when set, lists the page that follows this event: events
	// older than it, or as old with a smaller ID (ListEvents only).
	After EventCursor
	// Limit bounds the answer; <= 0 means 100.
	Limit int
}

// EventCount is the number of events of one type whose time falls in the
// bucket [Start, Start+step).
type EventCount struct {
	Start time.Time
	Type  string
	Count int64
}

// EventClientCount is the number of events naming one client.
type EventClientCount struct {
	ClientID string
	Count    int64
}

// Events stores security events, each until its Expires (DeleteExpired
// sweeps them), indexed by time and by type.
type Events interface {
	// AppendEvents stores events (their ID is ignored) in one transaction.
	AppendEvents(ctx context.Context, events []SecurityEvent) error
	// ListEvents returns the events f selects, newest first.
	ListEvents(ctx context.Context, f EventFilter) ([]SecurityEvent, error)
	// GetEvent returns one event by ID: ErrNotFound when there is none
	// (or it expired and was swept).
	GetEvent(ctx context.Context, id int64) (SecurityEvent, error)
	// CountEvents counts the events f selects (f.After and f.Limit
	// ignored) by type and by time bucket of length step, buckets aligned
	// on multiples of step since the Unix epoch; buckets without events
	// are absent. The order is by bucket, then type.
	CountEvents(ctx context.Context, f EventFilter, step time.Duration) ([]EventCount, error)
	// TopEventClients returns the n clients named by the most events f
	// selects (f.After and f.Limit ignored; events naming no client are
	// not counted), most first, ties by client ID.
	TopEventClients(ctx context.Context, f EventFilter, n int) ([]EventClientCount, error)
}
