package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

func init() {
	register(command{name: "events", summary: "list the security events in the configured store (docs/EVENTS.md)", run: runEvents})
}

// runEvents parses the filters, lists the events and prints them, newest
// first.
func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf configFlags
	var types listFlag
	var f store.EventFilter
	var since string
	fs := newFlagSet("events", "events [--type t] [--client id] [--subject sub] [--since 1h|RFC3339] [--limit n]", stderr)
	cf.register(fs)
	fs.Var(&types, "type", "event `types`, comma-separated: "+typeList())
	fs.StringVar(&f.ClientID, "client", "", "only events of this client_id")
	fs.StringVar(&f.Subject, "subject", "", "only events of this end user (sub)")
	fs.StringVar(&since, "since", "", "only events at or after this `time`: a duration ago (24h) or RFC 3339")
	fs.IntVar(&f.Limit, "limit", 100, "at most this many events")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var err error
	if f.Types, err = eventTypes(types); err != nil {
		return err
	}
	if f.Since, err = sinceTime(since, now()); err != nil {
		return err
	}
	if f.Limit < 1 {
		return fmt.Errorf("--limit %d: must be at least 1", f.Limit)
	}
	return withStore(ctx, &cf, func(_ *config.Config, st store.Store) error {
		evs, err := st.ListEvents(ctx, f)
		if err != nil {
			return err
		}
		return printEvents(stdout, evs)
	})
}

func typeList() string {
	s := make([]string, len(secevent.Types))
	for i, t := range secevent.Types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// eventTypes checks each --type against secevent.Types.
func eventTypes(in []string) ([]string, error) {
	for _, t := range in {
		if !slices.Contains(secevent.Types, secevent.Type(t)) {
			return nil, fmt.Errorf("--type %q: not an event type (%s)", t, typeList())
		}
	}
	return in, nil
}

// sinceTime reads --since: empty, a duration before now, or RFC 3339.
func sinceTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: neither a duration (24h) nor an RFC 3339 time", s)
	}
	return t, nil
}

func printEvents(w io.Writer, evs []store.SecurityEvent) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTYPE\tSEVERITY\tCLIENT_ID\tSUB\tJKT\tFAMILY_ID\tIP\tROUTE\tREASON\tINSTANCE\tACTOR")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return printable(s)
	}
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ts(e.Time), dash(e.Type), dash(e.Severity), dash(e.ClientID),
			dash(e.Subject), dash(e.JKT), dash(e.FamilyID), dash(e.ClientAddr), dash(e.Route), dash(e.Reason), dash(e.Instance), dash(e.Actor))
	}
	return tw.Flush()
}

// printable is s for a terminal: a field holding a control character, a
// non-printing rune or invalid UTF-8 is shown Go-quoted without its quotes
// (\x1b, \n, \t), so that a field from a token (a foreign issuer's sub
// may be a username its users chose) can neither drive the operator's
// terminal nor forge rows and columns.
func printable(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			q := strconv.Quote(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

// recordChange stores a client_changed, user_changed or key_changed event
// for an admin command that changed the store (docs/EVENTS.md). The
// change is made already: a failure to store the event is reported on
// stderr, not returned.
func recordChange(ctx context.Context, cfg *config.Config, st store.Store, stderr io.Writer, ev secevent.Event) {
	if !cfg.Events.Enabled {
		return
	}
	ev.Time, ev.Severity, ev.Instance = now(), ev.Type.Severity(), "ward-cli"
	ev.Sanitize()
	if err := (secevent.StoreSink{Store: st, Retention: cfg.Events.Retention}).Write(ctx, []secevent.Event{ev}); err != nil {
		fmt.Fprintf(stderr, "warning: the %s event was not stored: %v\n", ev.Type, err)
	}
}

// subjectOf is the subject of username, or "" when there is none.
func subjectOf(ctx context.Context, st store.Store, username string) string {
	u, err := st.GetUserByUsername(ctx, username)
	if err != nil {
		return ""
	}
	return u.Subject
}
