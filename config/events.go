package config

import "time"

// Events configures the security events (docs/EVENTS.md): the emitter's
// queue, the store's retention, and the automatic responses.
type Events struct {
	// Enabled turns the events on. Default true: the log line and the
	// stored row of each event; an accepted request costs nothing.
	Enabled bool `yaml:"enabled"`
	// Queue is how many events wait for the writer before new ones are
	// dropped (and counted). Default 4096, at most MaxEventQueue.
	Queue Count `yaml:"queue"`
	// Retention is how long the store keeps an event. Default 720h (30
	// days); at least 1h.
	Retention time.Duration `yaml:"retention"`
	// Responses are what Ward does on an event, per type.
	Responses EventResponses `yaml:"responses"`
	// Webhooks receive chosen events as signed JSON (events_webhooks.go).
	Webhooks []Webhook `yaml:"webhooks"`
}

// MaxEventQueue bounds events.queue (about 300 bytes an event).
const MaxEventQueue = 1 << 20

// EventResponses are the automatic responses, one section per event type.
type EventResponses struct {
	TokenLeaked TokenLeakedResponse `yaml:"token_leaked"`
}

// TokenLeakedResponse is the response to a token_leaked event.
type TokenLeakedResponse struct {
	// RevokeFamily revokes the leaked access token's grant (its refresh
	// token family): the legitimate client signs in again, the thief's
	// copies die. Default true. Only the two DPoP leak proofs trigger it
	// (docs/EVENTS.md, "Responses"), never a proof that fails to verify.
	RevokeFamily bool `yaml:"revoke_family"`
}

// DefaultEvents is the events section's default.
func DefaultEvents() Events {
	return Events{Enabled: true, Queue: 4096, Retention: 30 * 24 * time.Hour,
		Responses: EventResponses{TokenLeaked: TokenLeakedResponse{RevokeFamily: true}}}
}

// events checks the events section.
func (v *validator) events() {
	e := v.c.Events
	if e.Queue < 1 || e.Queue > MaxEventQueue {
		v.add("events.queue", ErrInvalidValue, "must be between 1 and %d", MaxEventQueue)
	}
	if e.Retention < time.Hour {
		v.add("events.retention", ErrInvalidValue, "must be at least 1h")
	}
	names := map[string]bool{}
	for i := range e.Webhooks {
		v.webhook(i, names)
	}
}
