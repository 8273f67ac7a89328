package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/secevent"
)

// A gateway-only process with events.push sends every event its emitter
// receives to the push URL as a SET, from the pusher's own worker, also
// the events still queued at shutdown; a key file that is no P-256
// PKCS#8 key is refused at start, naming the key.
func TestSecurityEventsPushWiring(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(t.TempDir(), "set.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	var got atomic.Int32
	recv := &secevent.SETReceiver{Audience: "https://as.example", Now: time.Now,
		Senders: map[string][]*ecdsa.PublicKey{"https://gw-a.example": {&key.PublicKey}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if rc, err := recv.Verify(body); err != nil || rc.Event.FamilyID != "fam-1" || rc.TokenIssuer != "https://as.example" {
			t.Errorf("push: %v %+v", err, rc)
		}
		got.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	cfg := config.Default()
	cfg.Issuer = "https://as.example/"
	cfg.AuthorizationServer.Enabled = false
	cfg.Events.Push = config.EventPush{URL: srv.URL + "/events/push", Issuer: "https://gw-a.example", KeyFile: keyFile}
	ev, err := newSecurityEvents(cfg, logger, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.usePush(cfg, logger, prometheus.NewRegistry()); err != nil || ev.push == nil {
		t.Fatalf("usePush: %v", err)
	}
	ev.emitter().Emit(secevent.Event{Type: secevent.TokenLeaked, FamilyID: "fam-1", Reason: "jkt_mismatch"})
	// A shutdown at once: the emitter hands its queue to the pusher, which
	// sends it before run returns.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ev.run(ctx); err != nil {
		t.Fatal(err)
	}
	if got.Load() != 1 {
		t.Errorf("%d SETs pushed, want 1", got.Load())
	}

	cfg.Events.Push.KeyFile = filepath.Join(t.TempDir(), "missing.pem")
	ev, _ = newSecurityEvents(cfg, logger, prometheus.NewRegistry())
	if err := ev.usePush(cfg, logger, nil); err == nil ||
		!strings.Contains(err.Error(), "events.push.key_file") {
		t.Errorf("a missing key file: %v", err)
	}
}
