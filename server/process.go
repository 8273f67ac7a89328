package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/demo"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/revocation"
)

// process is what one ward process runs: the shared Redis, the
// authorization server and the gateway (each nil when off).
type process struct {
	rs      *sharedRedis
	as      *authzServer
	creds   *DevCredentials // dev mode only
	gw      *gateway.Gateway
	feed    *revocationFeed // revocations.go; nil without a feed
	events  *securityEvents // events.go; nil when events.enabled is false
	blocks  *block.Blocker  // block.go; nil when events.responses.block is off
	wakeups *revocation.Wakeups
	reg     *prometheus.Registry // every component's metrics
	tr      *tracing             // tracing.go; nil when off
}

// close releases the store and the Redis client, and flushes the spans.
func (p *process) close() {
	p.tr.shutdown()
	if p.as != nil {
		p.as.close()
	}
	if p.rs != nil {
		p.rs.Close()
	}
}

// openProcess opens Redis, the authorization server and the gateway, in
// that order; on failure what was opened is released.
func openProcess(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*process, error) {
	rs, err := openRedis(cfg.Redis, logger)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	// Revocations wake the gateway's feed at once: in process, and
	// through Redis between processes (revocations.go).
	p := &process{rs: rs, wakeups: revocation.NewWakeups()}
	if err := p.open(ctx, cfg, logger); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *process) open(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	// The DPoP replay store and the rate-limit store shared by the
	// authorization server and the gateway: on Redis when configured
	// (every instance sees every proof and counts every request), else
	// the authorization server and the gateway each keep their own in
	// memory (one instance only).
	var replay dpop.ReplayStore
	var limits ratelimit.Store
	var err error
	if p.tr, err = openTracing(ctx, cfg.Tracing); err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	if p.rs != nil {
		// With tracing on, each Redis call is a child span.
		replay, limits = p.tr.replay(p.rs.replay), p.tr.limits(p.rs.limits)
		checkRedis(ctx, p.rs, cfg.Redis, logger)
	} else if cfg.Store.Driver == "postgres" || !cfg.AuthorizationServer.Enabled {
		logger.Warn("redis is not configured: DPoP proofs are remembered and rate limits counted per instance, so with several instances a proof can be replayed once at each and every limit is multiplied by their number; set redis.addr, redis.sentinel, redis.cluster or " + config.EnvRedisURL + " (docs/DEPLOYMENT.md)")
	}
	// One metrics registry for the whole process: the authorization
	// server's, the gateway's and Redis's series are scraped together.
	reg := prometheus.NewRegistry()
	p.reg = reg
	if p.rs != nil {
		registerRedisMetrics(reg, p.rs.replay)
	}
	if p.events, err = newSecurityEvents(cfg, logger, reg); err != nil {
		return err
	}
	if err := p.events.usePush(cfg, logger, reg); err != nil {
		return err
	}
	if p.blocks, err = openBlocks(cfg, p.rs, p.events, logger, reg); err != nil { // block.go
		return err
	}
	if cfg.AuthorizationServer.Enabled {
		if p.as, p.creds, err = openAuthz(ctx, cfg, logger, replay, limits, reg, revocationNotifier(p.rs, p.wakeups, logger), p.tr, p.events, p.blocks); err != nil {
			return err
		}
		if err := mountConsole(ctx, cfg, p.as, replay, p.rs, p.events.emitter(), logger, reg, p.blocks); err != nil {
			return err
		}
	}
	if cfg.Dev {
		if err := requireLoopback(cfg.Listen); err != nil {
			return err
		}
		cfg.Gateway = demo.DevConfigAt(cfg.Issuer, devGateway(cfg), cfg.Gateway.Listen, cfg.Gateway.AdminListen)
		cfg.Gateway.BFF[0].ClientSecretFile = filepath.Join(cfg.DataDir, devBFFSecretFile)
	}
	if !cfg.Gateway.Enabled {
		return nil
	}
	mounts, err := openBFF(cfg, p.rs, logger, reg)
	if err != nil {
		return err
	}
	if p.feed, err = openRevocations(cfg, p.as, p.wakeups, logger); err != nil {
		return err
	}
	if p.gw, err = gateway.New(&cfg.Gateway, gateway.Options{Issuer: cfg.GatewayIssuer(), Logger: logger,
		ReplayStore: replay, RateLimitStore: limits, Registry: reg, Mounts: mounts, Revocations: p.feed.set(),
		Upstreams: demo.Builtins(), Middleware: p.tr.middleware("gateway"),
		Events: p.events.emitter(), Blocks: p.blocks}); err != nil { // config accepts builtin:demo in any mode
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}
