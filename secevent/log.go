package secevent

import (
	"context"
	"log/slog"
)

// LogSink writes each event as one structured log line, "security event",
// with the log keys of docs/ARCHITECTURE.md: critical and warning events
// at level Warn, the others at Info. Empty fields are left out.
type LogSink struct{ Logger *slog.Logger }

var _ Sink = LogSink{}

// Write implements Sink.
func (s LogSink) Write(ctx context.Context, events []Event) error {
	for i := range events {
		ev := &events[i]
		level := slog.LevelInfo
		if ev.Severity != Info {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.String("event_type", string(ev.Type)), slog.String("severity", string(ev.Severity)),
			slog.Time("at", ev.Time)}
		for _, kv := range [...]struct{ k, v string }{{"instance", ev.Instance}, {"client_id", ev.ClientID},
			{"sub", ev.Subject}, {"jkt", ev.JKT}, {"family_id", ev.FamilyID}, {"ip", ev.ClientAddr},
			{"route", ev.Route}, {"reason", ev.Reason}} {
			if kv.v != "" {
				attrs = append(attrs, slog.String(kv.k, kv.v))
			}
		}
		s.Logger.LogAttrs(ctx, level, "security event", attrs...)
	}
	return nil
}
