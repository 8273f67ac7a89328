package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/gateway"
)

func init() {
	register(command{name: "serve", summary: "run the authorization server (and the gateway, when configured)", run: runServe})
}

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

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf configFlags
	fs := newFlagSet("serve", "serve (--config FILE | --dev [--data DIR])", stderr)
	cf.register(fs)
	jsonLogs := fs.Bool("log-json", false, "write logs as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, nil)
	if *jsonLogs {
		handler = slog.NewJSONHandler(stderr, nil)
	}
	logger := slog.New(handler)

	// WARD_CPUPROFILE=<file> writes a pprof CPU profile of the whole
	// process from here until shutdown (SIGINT/SIGTERM), for the load
	// tests in bench/ (`-cpuprofile`). Off unless set; not a config key
	// because it is a measuring aid, not a way to run the server.
	if path := os.Getenv("WARD_CPUPROFILE"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return fmt.Errorf("WARD_CPUPROFILE: %w", err)
		}
		defer stop()
	}

	st, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer st.Close()
	km, err := openKeys(cfg, st)
	if err != nil {
		return err
	}
	if err := km.EnsureKey(ctx, now()); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if err := authz.SyncStatic(ctx, st, cfg, now()); err != nil {
		return err
	}
	var creds *devCredentials
	if cfg.Dev {
		if creds, err = devBootstrap(ctx, cfg, st); err != nil {
			return fmt.Errorf("dev mode: %w", err)
		}
	}
	fk, err := flowKey(cfg)
	if err != nil {
		return err
	}
	as, err := authz.New(cfg, authz.Options{Store: st, Keys: km, Logger: logger, FlowKey: fk})
	if err != nil {
		return err
	}

	if cfg.Dev {
		if err := requireLoopback(cfg.Listen); err != nil {
			return err
		}
		cfg.Gateway = gateway.DevConfig(cfg.Issuer)
	}
	// Listen on every address before serving any, so a taken port fails
	// the start instead of leaving half a system running.
	asLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	var gw *gateway.Gateway
	var gwLn, admLn net.Listener
	if cfg.Gateway.Enabled {
		if gw, err = gateway.New(&cfg.Gateway, gateway.Options{Issuer: cfg.GatewayIssuer(), Logger: logger}); err != nil {
			asLn.Close()
			return fmt.Errorf("gateway: %w", err)
		}
		if gwLn, err = net.Listen("tcp", cfg.Gateway.Listen); err == nil {
			admLn, err = net.Listen("tcp", cfg.Gateway.AdminListen)
		}
		if err != nil {
			asLn.Close()
			if gwLn != nil {
				gwLn.Close()
			}
			return fmt.Errorf("gateway: %w", err)
		}
	}

	if cfg.Dev {
		fmt.Fprintf(stdout, "ward: DEV MODE — listening on loopback only; not for production.\n")
		printDevCredentials(stdout, cfg, creds)
	}
	fmt.Fprintf(stdout, "ward: authorization server %s (listening on %s)\n", cfg.Issuer, cfg.Listen)
	fmt.Fprintf(stdout, "ward:   metadata %s/.well-known/oauth-authorization-server\n", cfg.Issuer)
	if gw != nil {
		fmt.Fprintf(stdout, "ward: gateway %s (listening on %s), admin (metrics, health) on http://%s\n", cfg.Gateway.PublicURL, cfg.Gateway.Listen, cfg.Gateway.AdminListen)
		if cfg.Dev {
			fmt.Fprintf(stdout, "ward:   demo API %s/demo/whoami (DPoP-bound token required), %s/demo/public (open)\n", cfg.Gateway.PublicURL, cfg.Gateway.PublicURL)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	var wg sync.WaitGroup
	start := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	start("background work", func() error { return as.Run(ctx) })
	start("authorization server", func() error {
		return serveHTTP(ctx, newServer(cfg.Listen, as.Handler(), cfg.TLS, logger), asLn, cfg.TLS)
	})
	if gw != nil {
		start("gateway", func() error { return gw.Serve(ctx, gwLn, admLn) })
		if cfg.File() != "" {
			go gw.WatchReload(ctx, gateway.FileLoader(cfg.File()), 2*time.Second, cfg.File())
		}
	}
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down: draining in-flight requests")
	case runErr = <-errc:
		logger.Error("stopping", "err", runErr)
	}
	cancel()
	wg.Wait()
	return runErr
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
	errc := make(chan error, 1)
	go func() {
		if t.Enabled() {
			errc <- s.ServeTLS(ln, t.CertFile, t.KeyFile)
		} else {
			errc <- s.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	return s.Shutdown(sctx)
}

func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("dev mode listens on loopback only; %q is not a loopback address", addr)
	}
	return nil
}

// flowKey returns the key that seals authorization-flow state. In dev mode
// it is kept in the data folder so a restart does not break flows in
// progress; otherwise WARD_FLOW_KEY (base64, 32 bytes) is used when set,
// and a random key (one instance only) when not.
func flowKey(cfg *config.Config) ([]byte, error) {
	if v := os.Getenv("WARD_FLOW_KEY"); v != "" {
		k, err := decodeKey32(v)
		if err != nil {
			return nil, fmt.Errorf("WARD_FLOW_KEY: %w", err)
		}
		return k, nil
	}
	if cfg.Dev {
		return ensureSecretFile(filepath.Join(cfg.DataDir, "flow-key"))
	}
	return nil, nil
}

// startCPUProfile starts a CPU profile written to path; the returned
// function stops it and closes the file.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
