package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/store"
)

func TestEventsCommand(t *testing.T) {
	data := t.TempDir()
	dev := []string{"--dev", "--data", data}
	if out, code := ward(t, append([]string{"events"}, dev...)...); code != 0 || !strings.HasPrefix(out, "TIME") || strings.Count(out, "\n") != 1 {
		t.Fatalf("empty store: %d %q", code, out)
	}
	ctx := context.Background()
	st, err := openStore(ctx, config.Dev(data), slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-2 * time.Hour)
	err = st.AppendEvents(ctx, []store.SecurityEvent{
		{Time: at, Type: "token_leaked", Severity: "critical", ClientID: "app", Subject: "alice", FamilyID: "fam-1", Reason: "dpop_token_as_bearer", Expires: at.Add(time.Hour * 48)},
		{Time: at.Add(90 * time.Minute), Type: "login_failed", Severity: "warning", ClientID: "web", ClientAddr: "192.0.2.1", Expires: at.Add(time.Hour * 48)},
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args      []string
		want, not string
	}{
		{nil, "fam-1", ""},
		{[]string{"--type", "token_leaked"}, "fam-1", "login_failed"},
		{[]string{"--client", "web"}, "192.0.2.1", "fam-1"},
		{[]string{"--subject", "alice"}, "dpop_token_as_bearer", "login_failed"},
		{[]string{"--since", "1h"}, "login_failed", "token_leaked"},
		{[]string{"--limit", "1"}, "login_failed", "token_leaked"},
	} {
		out, code := ward(t, append(append([]string{"events"}, c.args...), dev...)...)
		if code != 0 || !strings.Contains(out, c.want) || (c.not != "" && strings.Contains(out, c.not)) {
			t.Errorf("events %v: %d\n%s", c.args, code, out)
		}
	}
	for _, bad := range [][]string{{"--type", "nope"}, {"--since", "yesterday"}, {"--limit", "0"}} {
		if out, code := ward(t, append(append([]string{"events"}, bad...), dev...)...); code != 1 {
			t.Errorf("events %v: %d %s, want 1", bad, code, out)
		}
	}
}

// The admin commands that change a client, a user or the signing keys
// each store an event; a failed one stores none.
func TestAdminChangesAreEvents(t *testing.T) {
	data := t.TempDir()
	dev := []string{"--dev", "--data", data}
	for _, args := range [][]string{
		{"client", "create", "--id", "svc", "--grant-type", "client_credentials"},
		{"client", "delete", "svc"},
		{"user", "create", "--username", "carol"},
		{"user", "delete", "--username", "nobody"}, // fails: no event
		{"keys", "rotate"},
	} {
		ward(t, append(args, dev...)...)
	}
	out, code := ward(t, append([]string{"events"}, dev...)...)
	if code != 0 {
		t.Fatalf("events: %d %s", code, out)
	}
	for _, want := range []string{"client_changed  info      svc", "created", "deleted", "user_changed", "key_changed", "rotated"} {
		if !strings.Contains(out, want) {
			t.Errorf("events lack %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "user_changed"); n != 1 {
		t.Errorf("%d user_changed events, want 1 (the failed delete stores none):\n%s", n, out)
	}
}

// FuzzSinceTime: --since never panics, and a duration it accepts is
// never in the future.
func FuzzSinceTime(f *testing.F) {
	for _, s := range []string{"", "24h", "1h30m", "-1h", "2026-12-06T07:00:00Z", "yesterday", "9999999999h"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := sinceTime(s, now)
		if err == nil && s != "" {
			if _, derr := time.ParseDuration(s); derr == nil && got.After(now) {
				t.Errorf("--since %q is %s, after now", s, got)
			}
		}
	})
}

// TestPrintEventsEscapesControls: an event's fields can come from a
// foreign issuer's token (sub mapped from a username its users choose):
// control characters are escaped, so they neither drive the operator's
// terminal (ESC sequences) nor forge rows or columns (newline, tab).
func TestPrintEventsEscapesControls(t *testing.T) {
	var b strings.Builder
	evil := "mallory\x1b]0;owned\x07\x1b[2J\n2026-01-01T00:00:00Z\ttoken_leaked\tcritical\r\u009b31m"
	err := printEvents(&b, []store.SecurityEvent{{Time: time.Unix(0, 0).UTC(), Type: "policy_denied", Severity: "warning",
		ClientID: evil, Subject: evil, Route: evil, Reason: evil, Instance: evil}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x07\r\t\u009b") || strings.Count(out, "\n") != 2 {
		t.Errorf("control characters reached the output: %q", out)
	}
	if !strings.Contains(out, `mallory\x1b]0;owned\a`) {
		t.Errorf("the field is not shown escaped: %q", out)
	}
}
