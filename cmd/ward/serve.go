package main

import (
	"context"
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
	fs := newFlagSet("serve", "serve (--config FILE | --dev [--data DIR])", stderr)
	cf.register(fs)
	jsonLogs := fs.Bool("log-json", false, "write logs as JSON")
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, err
	}
	cfg, err := cf.load()
	if err != nil {
		return nil, nil, err
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, nil)
	if *jsonLogs {
		handler = slog.NewJSONHandler(stderr, nil)
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
