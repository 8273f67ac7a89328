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

// EventFilter selects events for ListEvents; zero fields select all.
type EventFilter struct {
	Types             []string
	ClientID, Subject string
	// Since: events at or after this time.
	Since time.Time
	// Limit bounds the answer; <= 0 means 100.
	Limit int
}

// Events stores security events, each until its Expires (DeleteExpired
// sweeps them), indexed by time and by type.
type Events interface {
	// AppendEvents stores events (their ID is ignored) in one transaction.
	AppendEvents(ctx context.Context, events []SecurityEvent) error
	// ListEvents returns the events f selects, newest first.
	ListEvents(ctx context.Context, f EventFilter) ([]SecurityEvent, error)
}
