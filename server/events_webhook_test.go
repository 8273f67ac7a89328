package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/secevent"
)

// TestServeWebhook: `ward serve` builds events.webhooks for every process,
// an authorization server and a gateway-only one alike: an event emitted
// in the process reaches the receiver signed so that VerifyWebhook
// accepts it, and the webhook's metrics are on the admin listener.
func TestServeWebhook(t *testing.T) {
	secret := secevent.WebhookSecretPrefix + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s", 32)))
	for _, name := range []string{"authorization server", "gateway only"} {
		t.Run(name, func(t *testing.T) {
			got := make(chan error, 16)
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				err := secevent.VerifyWebhook(secret, r.Header, body, time.Now(), time.Minute)
				if err == nil && !strings.Contains(string(body), `"type":"token_leaked"`) {
					err = fmt.Errorf("body %s", body)
				}
				got <- err
			}))
			defer rcv.Close()
			dir := t.TempDir()
			secretFile := filepath.Join(dir, "hook-secret")
			if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			listen, admin := wardtest.FreeAddr(t), wardtest.FreeAddr(t)
			hooks := fmt.Sprintf("events:\n  webhooks:\n    - {name: siem, url: %q, secret_file: %q}\n", rcv.URL, secretFile)
			yaml := fmt.Sprintf(`issuer: https://as.example
behind_tls_proxy: {trusted_proxies: [10.0.0.0/8]}
listen: %s
admin_listen: %s
data_dir: %q
keys: {kek_file: %q}
`, listen, admin, dir, writeKEK(t, dir)) + hooks
			if name == "gateway only" {
				yaml = fmt.Sprintf(`authorization_server: {enabled: false}
data_dir: %q
gateway:
  enabled: true
  listen: %s
  admin_listen: %s
  public_url: https://api.example
  issuer: https://as.example
  routes:
    - {name: open, path_prefix: /open/, upstream: builtin:demo, unauthenticated: true}
`, dir, listen, admin) + hooks
			}
			s, done, stop := serveYAML(t, dir, yaml)
			s.p.events.emitter().Emit(secevent.Event{Type: secevent.TokenLeaked, ClientID: "app", Reason: "jkt_mismatch"})
			select {
			case err := <-got:
				if err != nil {
					t.Fatalf("the receiver refused the delivery: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no delivery")
			case <-done:
				t.Fatal("Serve returned")
			}
			var metrics string
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if resp, err := http.Get("http://" + admin + "/metrics"); err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if metrics = string(b); strings.Contains(metrics, `ward_security_webhook_delivered_total{webhook="siem"} 1`) {
						break
					}
				}
			}
			if !strings.Contains(metrics, `ward_security_webhook_delivered_total{webhook="siem"} 1`) {
				t.Errorf("admin /metrics lacks the delivery:\n%s", metrics)
			}
			stop()
		})
	}
}

// serveYAML loads yaml as `ward serve --config` does and serves it until
// stop; done is closed when Serve has returned.
func serveYAML(t *testing.T, dir, yaml string) (s *Server, done chan struct{}, stop func()) {
	t.Helper()
	t.Setenv(config.EnvStoreDSN, "")
	t.Setenv(config.EnvKeyEncryptionKey, "")
	path := filepath.Join(dir, "ward.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err = New(context.Background(), cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() {
		defer close(done)
		defer s.Close()
		if err := s.Serve(ctx); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			t.Error("Serve did not return")
		}
	}
	t.Cleanup(stop)
	return s, done, stop
}
