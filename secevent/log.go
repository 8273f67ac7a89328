package secevent

import (
	"context"
	"log/slog"

	"github.com/wardauth/ward/internal/loglimit"
)

// Log rate per event type (LogSink.Limit as ward serve builds it), as
// the refusal lines' (internal/loglimit).
const (
	LogRate  = 10  // lines a second of one type, sustained
	LogBurst = 100 // lines of one type at once
)

// LogSink writes each event as one structured log line, "security event",
// with the log keys of docs/ARCHITECTURE.md: critical and warning events
// at level Warn, the others at Info. Empty fields are left out.
type LogSink struct {
	Logger *slog.Logger
	// Limit, when set, bounds the lines of each event type (a token
	// bucket a type, as the refusal lines are): the first line written
	// after some were dropped counts them (suppressed).
	Limit *loglimit.Limiter
}

var _ Sink = LogSink{}

// Write implements Sink.
func (s LogSink) Write(ctx context.Context, events []Event) error {
	for i := range events {
		ev := &events[i]
		var dropped uint64
		if s.Limit != nil {
			var ok bool
			if ok, dropped = s.Limit.Allow(string(ev.Type)); !ok {
				continue
			}
		}
		level := slog.LevelInfo
		if ev.Severity != Info {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.String("event_type", string(ev.Type)), slog.String("severity", string(ev.Severity)),
			slog.Time("at", ev.Time)}
		for _, kv := range [...]struct{ k, v string }{{"instance", ev.Instance}, {"client_id", ev.ClientID},
			{"sub", ev.Subject}, {"jkt", ev.JKT}, {"family_id", ev.FamilyID}, {"ip", ev.ClientAddr},
			{"route", ev.Route}, {"reason", ev.Reason}, {"actor", ev.Actor}} {
			if kv.v != "" {
				attrs = append(attrs, slog.String(kv.k, kv.v))
			}
		}
		if dropped > 0 {
			attrs = append(attrs, slog.Uint64("suppressed", dropped))
		}
		s.Logger.LogAttrs(ctx, level, "security event", attrs...)
	}
	return nil
}
