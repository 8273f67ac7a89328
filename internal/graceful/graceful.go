// Package graceful serves an http.Server until its context ends, then
// drains it: the one serve-and-shutdown loop shared by every HTTP
// listener of the ward process (authorization server, mTLS aliases,
// admin, gateway, forward-auth).
package graceful

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Options says how Serve serves and drains.
type Options struct {
	// Grace bounds the drain: in-flight requests get this long to finish
	// once the context ends.
	Grace time.Duration
	// TLS serves TLS with ServeTLS(CertFile, KeyFile); with both files
	// empty the certificate comes from the server's TLSConfig.
	TLS               bool
	CertFile, KeyFile string
	// BeforeShutdown, when set, runs once the context ends and before the
	// listener closes (e.g. readiness turns false).
	BeforeShutdown func()
}

// Serve serves s on ln until ctx is done, then shuts s down gracefully:
// the listener closes and in-flight requests get up to o.Grace to finish.
// If serving fails first, s is closed and the error returned. The drain
// runs on a context without ctx's cancellation, so it is bounded by
// o.Grace alone.
func Serve(ctx context.Context, s *http.Server, ln net.Listener, o Options) error {
	errc := make(chan error, 1)
	go func() {
		if o.TLS {
			errc <- s.ServeTLS(ln, o.CertFile, o.KeyFile)
		} else {
			errc <- s.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		_ = s.Close()
		return err
	case <-ctx.Done():
	}
	if o.BeforeShutdown != nil {
		o.BeforeShutdown()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.Grace)
	defer cancel()
	err := s.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
