package server

import (
	"context"
	"io"
	"log/slog"

	"github.com/wardauth/ward/config"
)

// Options are what New takes beside the configuration.
type Options struct {
	// Logger receives the process's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Server is one ward process, opened and listening: the shared Redis,
// the authorization server and the gateway (each absent when off) and
// every listener.
type Server struct {
	cfg    *config.Config
	logger *slog.Logger
	p      *process
	l      *listeners
	served bool
}

// New opens Redis, the authorization server (store, keys, dev
// credentials) and the gateway, in that order, then listens on every
// configured address; on failure what was opened is released. In dev
// mode New fills in cfg's gateway section (the demo's); cfg must not
// change afterwards.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Server, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	p, err := openProcess(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	l, err := openListeners(cfg, p, logger)
	if err != nil {
		p.close()
		return nil, err
	}
	return &Server{cfg: cfg, logger: logger, p: p, l: l}, nil
}

// Banner writes what the process serves, and where (in dev mode, the
// demo's credentials too).
func (s *Server) Banner(w io.Writer) { printBanner(w, s.cfg, s.p, s.l) }

// Serve runs every server and background task until ctx is done or one
// of them fails; then every other one drains (HTTP and gRPC servers
// within their shutdown grace) before it returns. It returns the first
// failure, or nil after a shutdown asked through ctx. Call it once.
func (s *Server) Serve(ctx context.Context) error {
	s.served = true
	return serveProcess(ctx, s.cfg, s.p, s.l, s.logger)
}

// Close releases the store and the Redis client, and the listeners when
// Serve was never called (Serve closes those it served).
func (s *Server) Close() {
	if !s.served {
		s.l.closeAll()
	}
	s.p.close()
}
