// Command ward runs Ward's authorization server and gateway, manages its
// store, and acts as a DPoP-capable client for developers.
//
// Usage: ward <command> [flags]; `ward help` lists the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"syscall"
)

// command is one subcommand of ward.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is filled by the files of this package, one per subcommand.
var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

// errUsage makes main print usage and exit 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "-help" {
		name = "help"
	}
	if name == "serve" {
		tuneGC()
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "ward: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "ward %s: %v\n", name, err)
		return 1
	}
}

// serveGCPercent is the garbage collector's target for `ward serve`. Its
// heap is small (tens of MiB), so collecting at 5× the live heap instead of
// 2× costs little memory and measurably less CPU per request: 1.81–1.92
// instead of 2.06–2.08 times a bare verify+sign per token in
// bench/tokenload (docs/PERFORMANCE.md). GOGC, when set, wins.
const serveGCPercent = 400

func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Ward: sender-constrained OAuth 2.1 (DPoP, mTLS) authorization server, gateway and client.")
	fmt.Fprintln(w, "\nUsage: ward <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `ward <command> -h` for a command's flags.")
}

func init() {
	register(command{name: "help", summary: "show this help", run: func(_ context.Context, args []string, stdout, _ io.Writer) error {
		if len(args) > 0 {
			if c, ok := commands[args[0]]; ok {
				return c.run(context.Background(), []string{"-h"}, stdout, stdout)
			}
			return fmt.Errorf("unknown command %q", args[0])
		}
		usage(stdout)
		return nil
	}})
}
