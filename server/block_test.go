package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/wardtest"
)

// TestBlocksWiring: ward serve's one Blocker refuses a blocked address at
// the gateway and at /token alike, and Server.Blocks lists it.
func TestBlocksWiring(t *testing.T) {
	t.Setenv(config.EnvStoreDSN, "")
	t.Setenv(config.EnvKeyEncryptionKey, "")
	t.Setenv(config.EnvDPoPNonceSecret, "")
	cfg := config.Dev(t.TempDir())
	p, err := openProcess(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	if p.blocks == nil {
		t.Fatal("no Blocker by default")
	}
	for range cfg.Events.Responses.Block.Address.Threshold {
		p.blocks.Strike(t.Context(), block.Offence{Addr: netip.MustParseAddr("192.0.2.1"), Reason: "bad_signature"})
	}
	for name, h := range map[string]http.Handler{"gateway": p.gw.Handler(), "authorization server": p.as.handler()} {
		r := httptest.NewRequest("POST", cfg.Issuer+"/token", strings.NewReader("grant_type=client_credentials"))
		if name == "gateway" {
			rt := cfg.Gateway.Routes[0]
			r = httptest.NewRequest("GET", cfg.Gateway.PublicURL+rt.PathPrefix, nil)
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("X-Ward-Error") != "blocked" {
			t.Errorf("%s: %d %v %s, want 429 blocked", name, w.Code, w.Header(), w.Body)
		}
	}
	s := &Server{p: p}
	if bs, err := s.Blocks().List(t.Context()); err != nil || len(bs) != 1 {
		t.Fatalf("Blocks().List: %+v %v", bs, err)
	}
}

// TestBlocksOff: events.responses.block.enabled false builds no Blocker.
func TestBlocksOff(t *testing.T) {
	cfg := config.Default()
	cfg.Events.Responses.Block.Enabled = false
	if b, err := openBlocks(cfg, nil, nil, slog.Default(), prometheus.NewRegistry()); b != nil || err != nil {
		t.Fatalf("%v %v", b, err)
	}
}

// TestBlocksOnRedis: with a redis section, blocks live under
// <key_prefix>block: and OpenBlockStore (ward blocks) sees them.
func TestBlocksOnRedis(t *testing.T) {
	addr, c, prefix := wardtest.Redis(t, "srvblock")
	cfg := config.Default()
	cfg.Redis = config.Redis{Addr: addr, KeyPrefix: prefix}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	rs, err := openRedis(cfg.Redis, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	b, err := openBlocks(cfg, rs, nil, logger, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for range cfg.Events.Responses.Block.Address.Threshold {
		b.Strike(t.Context(), block.Offence{Addr: netip.MustParseAddr("203.0.113.5"), Reason: "malformed"})
	}
	if n := c.Exists(t.Context(), prefix+"block:address:203.0.113.5").Val(); n != 1 {
		t.Fatal("no key under <key_prefix>block:")
	}
	st, closeStore, err := OpenBlockStore(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	if bs, err := st.List(t.Context(), time.Now()); err != nil || len(bs) != 1 || bs[0].Value != "203.0.113.5" {
		t.Fatalf("ward blocks' store: %+v %v", bs, err)
	}
}
