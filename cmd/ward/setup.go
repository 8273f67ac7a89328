package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/server"
	"github.com/wardauth/ward/store"
)

// configFlags are the flags every command that touches the store shares.
type configFlags struct {
	path string
	dev  bool
	data string
}

func (c *configFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.path, "config", "", "configuration file (YAML, see docs/CONFIG.md)")
	fs.BoolVar(&c.dev, "dev", false, "development mode: loopback only, http issuer, everything generated under --data")
	fs.StringVar(&c.data, "data", "./ward-data", "data folder for --dev")
}

// load returns the validated configuration, with the environment applied.
func (c *configFlags) load() (*config.Config, error) {
	var cfg *config.Config
	switch {
	case c.path != "" && c.dev:
		return nil, fmt.Errorf("give either --config or --dev, not both")
	case c.path != "":
		var err error
		if cfg, err = config.Load(c.path); err != nil {
			return nil, err
		}
	case c.dev:
		cfg = config.Dev(c.data)
		if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
			return nil, err
		}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("give --config FILE, or --dev to run with generated development settings")
	}
	return cfg, nil
}

// newFlagSet makes a flag set that prints its usage to w and reports
// errors as values, not exits.
func newFlagSet(name, usage string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ward "+name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: ward %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args with flags before, between or after positional
// arguments (`ward client show ID --dev`), mapping a bad flag to errUsage.
// The positional arguments are then fs.Args().
func parseFlags(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

// openStore opens the configured store (server.OpenStore): the admin
// commands open the one `ward serve` runs on.
func openStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (store.Store, error) {
	return server.OpenStore(ctx, cfg, logger)
}

// openKeys returns the signing-key manager of `ward serve`
// (server.OpenKeys).
func openKeys(cfg *config.Config, st store.SigningKeys) (*keys.Manager, error) {
	return server.OpenKeys(cfg, st)
}

func now() time.Time { return time.Now() }
