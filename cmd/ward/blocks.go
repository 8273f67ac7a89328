package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/server"
)

func init() {
	register(command{name: "blocks", summary: "list or lift the blocked addresses and DPoP keys (docs/EVENTS.md)", run: runBlocks})
}

const blocksUsage = `Usage: ward blocks <list|lift> --config FILE
  list                      the blocks in force, ending last first
  lift --address IP         end the block of an address (an IPv6 address or /64: its /64)
  lift --key JKT            end the block of a DPoP key (its RFC 7638 thumbprint)
The blocks are read from the redis section's Redis, where every instance keeps them.
Without Redis they live in the memory of the running ward serve, out of reach.`

// blocksOpener opens the block store of a configuration; tests replace it.
var blocksOpener = func(cfg *config.Config) (block.Store, func(), error) {
	return server.OpenBlockStore(cfg, slog.Default())
}

// runBlocks parses the subcommand, opens the block store and lists or
// lifts.
func runBlocks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, stderr, blocksUsage)
	if err != nil {
		return err
	}
	var cf configFlags
	var address, key string
	fs := newFlagSet("blocks "+sub, "blocks "+sub+" [flags]", stderr)
	cf.register(fs)
	if sub == "lift" {
		fs.StringVar(&address, "address", "", "the blocked client `address` (IPv4, IPv6, or an IPv6 /64)")
		fs.StringVar(&key, "key", "", "the blocked DPoP key's `jkt`")
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	var kind block.Kind
	var value string
	switch sub {
	case "list":
	case "lift":
		if kind, value, err = liftTarget(address, key); err != nil {
			return err
		}
	default:
		fmt.Fprintln(stderr, blocksUsage)
		return errUsage
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	st, closeStore, err := blocksOpener(cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	if sub == "list" {
		bs, err := st.List(ctx, now())
		if err != nil {
			return err
		}
		return printBlocks(stdout, bs, now())
	}
	return liftBlock(ctx, cfg, st, kind, value, stdout, stderr)
}

// liftTarget reads --address or --key (exactly one).
func liftTarget(address, key string) (block.Kind, string, error) {
	switch {
	case (address == "") == (key == ""):
		return "", "", errors.New("give exactly one of --address or --key")
	case address != "":
		v, err := block.ParseAddress(address)
		if err != nil {
			return "", "", fmt.Errorf("--address: %w", err)
		}
		return block.Address, v, nil
	}
	v, err := block.ParseKey(key)
	if err != nil {
		return "", "", fmt.Errorf("--key: %w", err)
	}
	return block.Key, v, nil
}

// liftBlock lifts and records block_lifted in the store when this
// configuration has one (best effort: the lift is done already).
func liftBlock(ctx context.Context, cfg *config.Config, st block.Store, kind block.Kind, value string, stdout, stderr io.Writer) error {
	lifted, err := st.Lift(ctx, kind, value, now())
	if err != nil {
		return err
	}
	if !lifted {
		fmt.Fprintf(stdout, "%s %s was not blocked\n", kind, printable(value))
		return nil
	}
	fmt.Fprintf(stdout, "lifted the block of %s %s\n", kind, printable(value))
	if cfg.AuthorizationServer.Enabled {
		ev := secevent.Event{Type: secevent.BlockLifted, Reason: "lifted with ward blocks"}
		if kind == block.Key {
			ev.JKT = value
		} else {
			ev.ClientAddr = value
		}
		if st, err := openStore(ctx, cfg, slog.Default()); err != nil {
			fmt.Fprintf(stderr, "warning: the block_lifted event was not stored: %v\n", err)
		} else {
			recordChange(ctx, cfg, st, stderr, ev)
			st.Close()
		}
	}
	return nil
}

func printBlocks(w io.Writer, bs []block.Block, now time.Time) error {
	if len(bs) == 0 {
		fmt.Fprintln(w, "no blocks in force")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tVALUE\tUNTIL\tLEFT\tOFFENCES")
	for _, b := range bs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", b.Kind, printable(b.Value), ts(b.Until), b.Until.Sub(now).Round(time.Second), b.Offences)
	}
	return tw.Flush()
}
