package secevent

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/loglimit"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// StoreSink stores each event with its retention; the sweep removes it
// once the retention has passed, not before.
func TestStoreSinkRetention(t *testing.T) {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Unix(1700000000, 0)
	sink := StoreSink{Store: st, Retention: time.Hour}
	if err := sink.Write(t.Context(), []Event{{Time: at, Type: TokenLeaked, Severity: Critical, ClientID: "app"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		now  time.Time
		want int
	}{{at.Add(59 * time.Minute), 1}, {at.Add(time.Hour), 0}} {
		if _, err := st.DeleteExpired(t.Context(), c.now, 100); err != nil {
			t.Fatal(err)
		}
		got, err := st.ListEvents(t.Context(), store.EventFilter{Types: []string{string(TokenLeaked)}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != c.want {
			t.Errorf("after a sweep at +%s: %d events, want %d", c.now.Sub(at), len(got), c.want)
		}
	}
}

// TestStoreSinkLimited: a flood of one event type (nonce_failure needs no
// token at /token: a self-made key and a made-up nonce) stores at most
// the limiter's burst and rate, each type on its own, so the table cannot
// grow at the request rate for the whole retention, and a token_leaked
// in the flood is still stored.
func TestStoreSinkLimited(t *testing.T) {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Unix(1700000000, 0)
	sink := StoreSink{Store: st, Limit: loglimit.New(1, 5, func() time.Time { return at })}
	flood := make([]Event, 0, 1001)
	for range 1000 {
		flood = append(flood, Event{Time: at, Type: NonceFailure, Severity: Info, Reason: "nonce_invalid"})
	}
	flood = append(flood, Event{Time: at, Type: TokenLeaked, Severity: Critical, ClientID: "app"})
	if err := sink.Write(t.Context(), flood); err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[Type]int{NonceFailure: 5, TokenLeaked: 1} {
		got, err := st.ListEvents(t.Context(), store.EventFilter{Types: []string{string(typ)}, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("%s: %d stored, want %d", typ, len(got), want)
		}
	}
}

// TestLogSinkLimited: a flood of one event type writes at most the
// limiter's burst of log lines (the refusal lines are bounded the same
// way), the next line allowed says how many were suppressed, and another
// type keeps its own lines.
func TestLogSinkLimited(t *testing.T) {
	var buf strings.Builder
	now := time.Unix(1700000000, 0)
	sink := LogSink{Logger: slog.New(slog.NewTextHandler(&buf, nil)), Limit: loglimit.New(1, 5, func() time.Time { return now })}
	flood := make([]Event, 0, 1001)
	for range 1000 {
		flood = append(flood, Event{Time: now, Type: ProofReplayed, Severity: Warning, Reason: "replayed"})
	}
	flood = append(flood, Event{Time: now, Type: TokenLeaked, Severity: Critical, ClientID: "app"})
	if err := sink.Write(t.Context(), flood); err != nil {
		t.Fatal(err)
	}
	if n, m := strings.Count(buf.String(), "event_type=proof_replayed"), strings.Count(buf.String(), "event_type=token_leaked"); n != 5 || m != 1 {
		t.Errorf("%d proof_replayed and %d token_leaked lines, want 5 and 1", n, m)
	}
	now = now.Add(time.Second)
	buf.Reset()
	if err := sink.Write(t.Context(), flood[:1]); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "suppressed=995") {
		t.Errorf("the next line does not count the suppressed ones: %s", buf.String())
	}
}
