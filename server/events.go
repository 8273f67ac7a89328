package server

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/loglimit"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// securityEvents is the process's event pipeline (docs/EVENTS.md): one
// emitter shared by the authorization server and the gateway, writing to
// the log and, when this process has the store, to the store, with the
// token_leaked response.
type securityEvents struct {
	em    *secevent.Emitter
	sinks *sinkList
	push  *secevent.Pusher // events.push (events_push.go); nil: none
}

// sinkList is the emitter's sinks past the log: the store's are known
// only once the authorization server has opened it, before Run.
type sinkList struct{ sinks []secevent.Sink }

func (l *sinkList) Write(ctx context.Context, evs []secevent.Event) error {
	var first error
	for _, s := range l.sinks {
		if err := s.Write(ctx, evs); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// newSecurityEvents builds the emitter; nil when events.enabled is false.
func newSecurityEvents(cfg *config.Config, logger *slog.Logger, reg *prometheus.Registry) *securityEvents {
	if !cfg.Events.Enabled {
		return nil
	}
	l := &sinkList{}
	em := secevent.NewEmitter(secevent.Options{Queue: int(cfg.Events.Queue), Logger: logger, Registry: reg,
		Sinks: []secevent.Sink{secevent.LogSink{Logger: logger, Limit: loglimit.New(secevent.LogRate, secevent.LogBurst, nil)}, l}})
	return &securityEvents{em: em, sinks: l}
}

// emitter is ev's emitter, nil when events are off.
func (ev *securityEvents) emitter() *secevent.Emitter {
	if ev == nil {
		return nil
	}
	return ev.em
}

// useStore adds the store's sinks: the events table, and the revocation
// of a leaked token's family when events.responses.token_leaked.
// revoke_family is on. watched is the store whose revocations wake the
// gateways' revocation feeds at once.
func (ev *securityEvents) useStore(cfg *config.Config, st, watched store.Store, logger *slog.Logger) {
	if ev == nil {
		return
	}
	ev.sinks.sinks = append(ev.sinks.sinks, secevent.StoreSink{Store: st, Retention: cfg.Events.Retention,
		Limit: loglimit.New(secevent.StoreRate, secevent.StoreBurst, nil)})
	if cfg.Events.Responses.TokenLeaked.RevokeFamily {
		ev.sinks.sinks = append(ev.sinks.sinks, secevent.RevokeFamily{Store: watched, Logger: logger})
	}
}
