package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/extauthz"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/graceful"
	"github.com/wardauth/ward/internal/httpsafe"
)

// Listener limits: a slow or hostile client cannot hold a connection or
// send an unbounded header.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	shutdownGrace     = 15 * time.Second
)

// serveProcess runs every server and background task in one errgroup
// until ctx is done or one of them fails; then every other one drains
// (HTTP and gRPC servers within their shutdown grace) before it returns.
// It returns the first failure, or nil after a shutdown asked through
// ctx.
func serveProcess(ctx context.Context, cfg *config.Config, p *process, l *listeners, logger *slog.Logger) error {
	t := newTasks(ctx, logger)
	if p.events != nil {
		t.start("security events", p.events.run)
	}
	if p.as != nil {
		serveAuthz(t.start, cfg, p.as, l, logger)
	}
	if p.gw != nil {
		serveGateway(t.gctx, t.start, cfg, p, l, logger)
	}
	if l.extAuthzSrv != nil {
		t.start("ext_authz", func(ctx context.Context) error {
			return extauthz.Serve(ctx, l.extAuthzSrv, l.extAuthz, cfg.Gateway.Timeouts.Shutdown)
		})
	}
	return t.wait()
}

// serveAuthz starts the authorization server's background work and its
// listeners.
func serveAuthz(start starter, cfg *config.Config, as *authzServer, l *listeners, logger *slog.Logger) {
	start("background work", as.Run)
	if as.traffic != nil {
		start("console traffic sampler", func(ctx context.Context) error { as.traffic.Run(ctx); return nil })
	}
	hs := newServer(cfg.Listen, httpsafe.CloseAfterChunked(as.handler()), cfg.TLS, logger)
	if as.mt != nil {
		start("mtls reload", func(ctx context.Context) error { as.mt.Watch(ctx, cfg.MTLS.Interval()); return nil })
		if cfg.MTLS.Listen == "" {
			// Client certificates on the main listener; the snapshot's
			// certificate wins over the files.
			hs.TLSConfig = as.mt.TLSConfig()
		}
	}
	start("authorization server", func(ctx context.Context) error { return serveHTTP(ctx, hs, l.as, cfg.TLS) })
	if l.mtls != nil {
		ms := newServer(cfg.MTLS.Listen, httpsafe.CloseAfterChunked(as.handler()), cfg.TLS, logger)
		ms.TLSConfig = as.mt.TLSConfig()
		start("mtls endpoints", func(ctx context.Context) error { return serveHTTP(ctx, ms, l.mtls, cfg.TLS) })
	}
	if l.asAdmin != nil {
		adm := &http.Server{Handler: adminMux(as), ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout}
		start("admin", func(ctx context.Context) error { return serveHTTP(ctx, adm, l.asAdmin, config.TLS{}) })
	}
}

// serveGateway brings the revocation feed up to date, then starts it, the
// gateway's listeners and the configuration reload watcher.
func serveGateway(ctx context.Context, start starter, cfg *config.Config, p *process, l *listeners, logger *slog.Logger) {
	if p.feed != nil {
		p.feed.catchUp(ctx, logger)
		start("revocation feed", p.feed.follower.Run)
		if p.rs != nil {
			start("revocation wake-ups", func(ctx context.Context) error { p.rs.replay.RevocationWakeups(ctx, p.wakeups.Wake); return nil })
		}
	}
	gw := p.gw
	start("gateway", func(ctx context.Context) error { return gw.Serve(ctx, l.gw, l.gwAdmin) })
	if l.authorizer != nil {
		start("gateway authorizer", func(ctx context.Context) error { return gw.ServeAuthorizer(ctx, l.authorizer) })
	}
	if f := cfg.File(); f != "" {
		start("gateway reload", func(ctx context.Context) error {
			gw.WatchReload(ctx, gateway.FileLoader(f), 2*time.Second, f)
			return nil
		})
	}
}

// adminMux serves the authorization server's metrics and health on the
// admin listener of a process without a gateway.
func adminMux(as *authzServer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", as.MetricsHandler())
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	}
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", ok)
	return mux
}

// newServer builds an http.Server with Ward's limits; with a certificate it
// serves TLS 1.3 only.
func newServer(addr string, h http.Handler, t config.TLS, logger *slog.Logger) *http.Server {
	s := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if t.Enabled() {
		s.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS13}
	}
	return s
}

// serveHTTP serves s on ln until ctx ends, then drains in-flight requests
// for up to shutdownGrace.
func serveHTTP(ctx context.Context, s *http.Server, ln net.Listener, t config.TLS) error {
	return graceful.Serve(ctx, s, ln, graceful.Options{Grace: shutdownGrace, TLS: t.Enabled(), CertFile: t.CertFile, KeyFile: t.KeyFile})
}
