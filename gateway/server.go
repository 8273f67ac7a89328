package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"

	"github.com/wardauth/ward/internal/graceful"
	"github.com/wardauth/ward/internal/httpsafe"
)

// Server returns an http.Server for the public listener with the
// configured timeouts and header limit, and TLS 1.3 only when TLS is
// configured (the caller loads the certificate into TLSConfig or passes
// the files to ListenAndServeTLS).
func (g *Gateway) Server() *http.Server {
	cfg := g.state.Load().cfg
	t := cfg.Timeouts
	srv := &http.Server{
		Addr:              cfg.Listen,
		Handler:           g.Handler(),
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    int(cfg.Limits.MaxHeaderBytes),
		ErrorLog:          g.errorLog(),
	}
	switch {
	case g.TLSConfig() != nil:
		// gateway.mtls: TLS 1.3 only, client certificates verified
		// against the CA files, certificate and CAs reloaded on change.
		srv.TLSConfig = g.TLSConfig().TLSConfig()
	case cfg.TLS.Enabled():
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS13}
	}
	return srv
}

// AdminServer returns an http.Server for the admin listener.
func (g *Gateway) AdminServer() *http.Server {
	cfg := g.state.Load().cfg
	return &http.Server{Addr: cfg.AdminListen, Handler: g.AdminHandler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
}

// Serve serves the gateway on ln (and the admin handler on admin, when not
// nil) until ctx is done, then shuts down gracefully: readiness turns
// false, the listeners close, and in-flight requests get up to
// timeouts.shutdown to finish. If one listener fails, the others are
// drained the same way and its error is returned.
func (g *Gateway) Serve(ctx context.Context, ln, admin net.Listener) error {
	srv := g.Server()
	cfg := g.state.Load().cfg
	// A flood of connections waits in the kernel's accept queue instead of
	// costing a goroutine and buffers each.
	if n := int(cfg.Limits.MaxConnections); n > 0 {
		ln = netutil.LimitListener(ln, n)
	}
	notReady := func() { g.ready.Store(false) }
	opts := graceful.Options{Grace: cfg.Timeouts.Shutdown, BeforeShutdown: notReady}
	switch {
	case g.TLSConfig() != nil:
		opts.TLS = true // the reloading configuration holds the certificate
	case cfg.TLS.Enabled():
		opts.TLS, opts.CertFile, opts.KeyFile = true, cfg.TLS.CertFile, cfg.TLS.KeyFile
	}
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { g.WatchCertificates(ctx); return nil })
	eg.Go(func() error { return graceful.Serve(ctx, srv, ln, opts) })
	if admin != nil {
		adm := g.AdminServer()
		eg.Go(func() error {
			return graceful.Serve(ctx, adm, admin, graceful.Options{Grace: cfg.Timeouts.Shutdown, BeforeShutdown: notReady})
		})
	}
	err := eg.Wait()
	notReady()
	return err
}

// ServeAuthorizer serves the forward-auth endpoint on ln, its own
// listener (gateway.authorizer.listen), until ctx is done, then shuts
// down gracefully. It returns at once when the endpoint is off or served
// on the gateway's listener.
func (g *Gateway) ServeAuthorizer(ctx context.Context, ln net.Listener) error {
	if g.authz == nil || g.authz.onListener {
		return nil
	}
	cfg := g.state.Load().cfg
	t := cfg.Timeouts
	h := g.AuthorizerHandler()
	if g.opts.Middleware != nil {
		h = g.opts.Middleware(h) // the request's span, as on the gateway's listener
	}
	srv := &http.Server{
		Handler:           httpsafe.CloseAfterChunked(h),
		ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read, WriteTimeout: t.Write, IdleTimeout: t.Idle,
		MaxHeaderBytes: int(cfg.Limits.MaxHeaderBytes), ErrorLog: g.errorLog(),
	}
	if n := int(cfg.Limits.MaxConnections); n > 0 {
		ln = netutil.LimitListener(ln, n)
	}
	return graceful.Serve(ctx, srv, ln, graceful.Options{Grace: t.Shutdown})
}
