package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

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
	em       *secevent.Emitter
	sinks    *sinkList
	webhooks []*secevent.Webhook
	push     *secevent.Pusher // events.push (events_push.go); nil: none
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

// newSecurityEvents builds the emitter and its webhooks; nil when
// events.enabled is false.
func newSecurityEvents(cfg *config.Config, logger *slog.Logger, reg *prometheus.Registry) (*securityEvents, error) {
	if !cfg.Events.Enabled {
		return nil, nil
	}
	l := &sinkList{}
	sinks := []secevent.Sink{secevent.LogSink{Logger: logger, Limit: loglimit.New(secevent.LogRate, secevent.LogBurst, nil)}}
	hooks, err := newWebhooks(cfg, logger, reg)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		sinks = append(sinks, h)
	}
	em := secevent.NewEmitter(secevent.Options{Queue: int(cfg.Events.Queue), Logger: logger, Registry: reg,
		Sinks: append(sinks, l)})
	return &securityEvents{em: em, sinks: l, webhooks: hooks}, nil
}

// newWebhooks builds a secevent.Webhook for each events.webhooks entry,
// reading its secrets (files now, the environment's at load).
func newWebhooks(cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer) ([]*secevent.Webhook, error) {
	var hooks []*secevent.Webhook
	for i, w := range cfg.Events.Webhooks {
		w = w.Effective(i)
		keys, err := w.Keys(i)
		if err != nil {
			return nil, err
		}
		h, err := secevent.NewWebhook(secevent.WebhookOptions{Name: w.Name, URL: w.URL, Keys: keys,
			Types: w.EventTypes(), MinSeverity: secevent.Severity(w.MinSeverity), Rate: float64(w.MaxRate),
			Burst: int(w.Burst), Queue: int(w.Queue), Timeout: w.Timeout, MaxAttempts: int(w.Retry.MaxAttempts),
			Backoff: w.Retry.Backoff, MaxBackoff: w.Retry.MaxBackoff, Logger: logger, Registry: reg})
		if err != nil {
			return nil, fmt.Errorf("events.webhooks[%d]: %w", i, err)
		}
		hooks = append(hooks, h)
	}
	return hooks, nil
}

// run runs the emitter until ctx ends, and the webhooks and the pusher
// (events.push) until the emitter has handed them its last events: each
// then drains its queue within its bound (secevent.DefaultWebhookDrain,
// the pusher's 5 s).
func (ev *securityEvents) run(ctx context.Context) error {
	hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, h := range ev.webhooks {
		wg.Go(func() { _ = h.Run(hctx) })
	}
	if ev.push != nil {
		wg.Go(func() { _ = ev.push.Run(hctx) })
	}
	err := ev.em.Run(ctx)
	stop()
	wg.Wait()
	return err
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
