package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"

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
// timeouts.shutdown to finish.
func (g *Gateway) Serve(ctx context.Context, ln, admin net.Listener) error {
	srv := g.Server()
	cfg := g.state.Load().cfg
	// A flood of connections waits in the kernel's accept queue instead of
	// costing a goroutine and buffers each.
	if n := int(cfg.Limits.MaxConnections); n > 0 {
		ln = netutil.LimitListener(ln, n)
	}
	errc := make(chan error, 2)
	go func() {
		var err error
		switch {
		case g.TLSConfig() != nil:
			err = srv.ServeTLS(ln, "", "") // the reloading configuration holds the certificate
		case cfg.TLS.Enabled():
			err = srv.ServeTLS(ln, cfg.TLS.CertFile, cfg.TLS.KeyFile)
		default:
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go g.WatchCertificates(wctx)
	var adm *http.Server
	if admin != nil {
		adm = g.AdminServer()
		go func() { errc <- adm.Serve(admin) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			g.ready.Store(false)
			_ = srv.Close()
			if adm != nil {
				_ = adm.Close()
			}
			return err
		}
	}
	g.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Timeouts.Shutdown)
	defer cancel()
	err := srv.Shutdown(sctx)
	if adm != nil {
		_ = adm.Shutdown(sctx)
	}
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
	srv := &http.Server{
		Handler:           httpsafe.CloseAfterChunked(g.AuthorizerHandler()),
		ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read, WriteTimeout: t.Write, IdleTimeout: t.Idle,
		MaxHeaderBytes: int(cfg.Limits.MaxHeaderBytes), ErrorLog: g.errorLog(),
	}
	if n := int(cfg.Limits.MaxConnections); n > 0 {
		ln = netutil.LimitListener(ln, n)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), t.Shutdown)
	defer cancel()
	return srv.Shutdown(sctx)
}
