package server

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/loglimit"
	"github.com/wardauth/ward/secevent"
)

// usePush adds the push of events to the authorization server
// (events.push, docs/EVENTS.md "Scale-out"): a gateway-only process signs
// each event as a SET and sends it from its own queue; Run is started by
// serveProcess.
func (ev *securityEvents) usePush(cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer) error {
	p := cfg.Events.Push
	if ev == nil || !p.Enabled() {
		return nil
	}
	key, err := secevent.LoadSETKey(p.KeyFile)
	if err != nil {
		return fmt.Errorf("events.push.key_file: %w", err)
	}
	iss := strings.TrimSuffix(cfg.GatewayIssuer(), "/")
	sg, err := secevent.NewSETSigner(key, p.Issuer, iss)
	if err != nil {
		return fmt.Errorf("events.push.key_file: %w", err)
	}
	ev.push = secevent.NewPusher(secevent.PushOptions{URL: p.URL, Signer: sg, TokenIssuer: iss,
		Queue: int(p.Queue), MaxRetry: p.MaxRetry, Logger: logger, Registry: reg,
		Limit: loglimit.New(secevent.StoreRate, secevent.StoreBurst, nil)})
	ev.sinks.sinks = append(ev.sinks.sinks, ev.push)
	return nil
}
