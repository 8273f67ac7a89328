package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/server"
)

func init() {
	register(command{name: "serve", summary: "run the authorization server (and the gateway, when configured)", run: runServe})
}

// runServe parses the flags, opens everything `ward serve` runs
// (server.New: the store, keys, Redis, the authorization server, the
// gateway and every listener), prints what it serves and serves it until
// ctx ends.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, logger, err := parseServe(args, stderr)
	if err != nil {
		return err
	}
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
	s, err := server.New(ctx, cfg, server.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer s.Close()
	s.Banner(stdout)
	return s.Serve(ctx)
}

// parseServe parses serve's flags, loads the configuration and builds
// the logger.
func parseServe(args []string, stderr io.Writer) (*config.Config, *slog.Logger, error) {
	var cf configFlags
	fs := newFlagSet("serve", "serve (--config FILE | --dev [--data DIR] [--listen A --gateway-listen A --admin-listen A])", stderr)
	cf.register(fs)
	jsonLogs := fs.Bool("log-json", false, "write logs as JSON")
	var da devAddrs
	da.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, err
	}
	cfg, err := cf.load()
	if err != nil {
		return nil, nil, err
	}
	if err := da.apply(cfg); err != nil {
		return nil, nil, err
	}
	// log.level (docs/OBSERVABILITY.md): info unless set.
	ho := &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}
	var handler slog.Handler = slog.NewTextHandler(stderr, ho)
	if *jsonLogs {
		handler = slog.NewJSONHandler(stderr, ho)
	}
	return cfg, slog.New(handler), nil
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

// devAddrs are serve's flags that move the dev server's listeners
// (config.SetDevAddrs), so that it can run beside another one.
type devAddrs struct{ as, gateway, admin string }

func (d *devAddrs) register(fs *flag.FlagSet) {
	fs.StringVar(&d.as, "listen", "", "with --dev: the authorization server's loopback address, default "+config.DevListen+"; the issuer follows it")
	fs.StringVar(&d.gateway, "gateway-listen", "", "with --dev: the gateway's loopback address, default "+config.DevGatewayListen)
	fs.StringVar(&d.admin, "admin-listen", "", "with --dev: the admin listener's loopback address (metrics, health), default "+config.DevAdminListen)
}

// apply moves cfg's listeners when a flag was given.
func (d *devAddrs) apply(cfg *config.Config) error {
	if *d == (devAddrs{}) {
		return nil
	}
	return cfg.SetDevAddrs(d.as, d.gateway, d.admin)
}
