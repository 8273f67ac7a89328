package server

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/revocation"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// The process's pipeline stores a leaked-token event, revokes its family
// through the watched store (waking the revocation feed), and does
// neither with revoke_family off or events disabled.
func TestSecurityEventsWiring(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		name          string
		enabled, resp bool
		wantRevoked   bool
	}{{"default", true, true, true}, {"response off", true, false, false}, {"events off", false, true, false}} {
		t.Run(c.name, func(t *testing.T) {
			st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ward.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			rt := sha256.Sum256([]byte("rt"))
			now := time.Now()
			if err := st.CreateFamily(t.Context(), &store.Family{ID: "fam-1", ClientID: "app", Subject: "alice", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
				&store.RefreshToken{Hash: rt[:], FamilyID: "fam-1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			cfg := config.Default()
			cfg.Events.Enabled = c.enabled
			cfg.Events.Responses.TokenLeaked.RevokeFamily = c.resp
			woken := 0
			ev, err := newSecurityEvents(cfg, logger, prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			ev.useStore(cfg, st, revocation.Watch(st, func() { woken++ }), logger)
			ev.emitter().Emit(secevent.Event{Type: secevent.TokenLeaked, ClientID: "app", FamilyID: "fam-1", Reason: "dpop_token_as_bearer"})
			if ev != nil {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_ = ev.em.Run(ctx)
			}
			fam, err := st.GetFamily(t.Context(), "fam-1")
			if err != nil {
				t.Fatal(err)
			}
			if fam.Revoked() != c.wantRevoked || (woken > 0) != c.wantRevoked {
				t.Errorf("revoked %v, feed woken %d times; want revoked %v", fam.Revoked(), woken, c.wantRevoked)
			}
			stored, err := st.ListEvents(t.Context(), store.EventFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if (len(stored) == 1) != c.enabled {
				t.Errorf("%d events stored with events.enabled %v", len(stored), c.enabled)
			}
		})
	}
}

// TestSecurityEventsStoreLimited: the process's store and log sinks bound
// each event type's rows (secevent.StoreBurst at once) and lines
// (secevent.LogBurst), so a flood of events that need no token can fill
// neither the events table nor the log.
func TestSecurityEventsStoreLimited(t *testing.T) {
	var lines strings.Builder
	logger := slog.New(slog.NewTextHandler(&lines, nil))
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.Events.Queue = 2 * secevent.StoreBurst
	ev, err := newSecurityEvents(cfg, logger, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ev.useStore(cfg, st, st, logger)
	for range 2 * secevent.StoreBurst {
		ev.emitter().Emit(secevent.Event{Type: secevent.NonceFailure, Reason: "nonce_invalid"})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = ev.em.Run(ctx)
	stored, err := st.ListEvents(t.Context(), store.EventFilter{Limit: 10 * secevent.StoreBurst})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(stored); n > secevent.StoreBurst+secevent.StoreRate {
		t.Errorf("%d events stored of a flood of %d, want at most about %d", n, 2*secevent.StoreBurst, secevent.StoreBurst)
	}
	if n := strings.Count(lines.String(), "security event"); n > secevent.LogBurst+secevent.LogRate {
		t.Errorf("%d lines logged of a flood of %d, want at most about %d", n, 2*secevent.StoreBurst, secevent.LogBurst)
	}
}
