package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/wardauth/ward/config"
)

// `ward config check` reports every problem of a configuration file at
// once, for people and for deployment pipelines; the checking itself is
// config.Check.

func init() {
	register(command{name: "config", summary: "check a configuration file and report every problem at once", run: runConfig})
}

const configUsage = `Usage: ward config check --config FILE
Reads FILE as ward serve would (YAML, unknown keys, values, the environment,
validation) and reports every problem, each with its file:line and key.
Files the configuration names (certificates, keys) are not read.
Exit status: 0 valid; 1 invalid (problems listed on stdout);
2 usage error or FILE unreadable.`

// errInvalidConfig ends `ward config check` with status 1 after the
// problems were printed.
var errInvalidConfig = errors.New("configuration is invalid")

func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, stderr, configUsage)
	if err != nil {
		return err
	}
	if sub != "check" {
		fmt.Fprintln(stderr, configUsage)
		return errUsage
	}
	fs := newFlagSet("config check", "config check --config FILE", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags:\n", configUsage)
		fs.PrintDefaults()
	}
	path := fs.String("config", "", "configuration file (YAML, see docs/CONFIG.md)")
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if *path == "" && fs.NArg() == 1 {
		*path = fs.Arg(0)
	}
	if *path == "" || fs.NArg() > 1 || (fs.NArg() == 1 && fs.Arg(0) != *path) {
		fmt.Fprintln(stderr, configUsage)
		return errUsage
	}
	return checkConfig(*path, stdout, stderr)
}

// checkConfig prints each problem of the file at path, or that it is valid.
func checkConfig(path string, stdout, stderr io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "ward config check: %v\n", err)
		return errUsage
	}
	_, err = config.Check(path, data, os.LookupEnv)
	if err == nil {
		fmt.Fprintf(stdout, "%s: ok\n", path)
		return nil
	}
	problems := config.Problems(err)
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	noun := "problems"
	if len(problems) == 1 {
		noun = "problem"
	}
	return fmt.Errorf("%w: %d %s", errInvalidConfig, len(problems), noun)
}
