package server

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/revocation"
)

// TestOpenRevocations: the gateway's feed comes from the store with the
// authorization server in process, from /revocations with a client
// otherwise, and is off (with a warning) without either or when
// disabled; a secret file that is missing or empty is named.
func TestOpenRevocations(t *testing.T) {
	dir := t.TempDir()
	secret, empty := filepath.Join(dir, "secret"), filepath.Join(dir, "empty")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := func(mod func(*config.GatewayRevocations)) *config.Config {
		c := config.Default()
		c.Issuer = "https://as.example"
		if mod != nil {
			mod(&c.Gateway.Revocations)
		}
		return c
	}
	wk := revocation.NewWakeups()
	inProcess := &authzServer{}

	f, err := openRevocations(cfg(nil), inProcess, wk, log)
	if err != nil || f == nil {
		t.Fatalf("in process: %v %v", f, err)
	}
	if _, ok := f.follower.Source.(revocation.Store); !ok || f.follower.Wake == nil {
		t.Errorf("in process: source %T, wake %v", f.follower.Source, f.follower.Wake)
	}
	if f, err := openRevocations(cfg(func(r *config.GatewayRevocations) { r.Disabled = true }), inProcess, wk, log); f != nil || err != nil {
		t.Errorf("disabled: %v %v", f, err)
	}
	if f, err := openRevocations(cfg(nil), nil, wk, log); f != nil || err != nil {
		t.Errorf("no client: %v %v", f, err)
	}
	f, err = openRevocations(cfg(func(r *config.GatewayRevocations) { r.ClientID, r.ClientSecretFile = "gw", secret }), nil, wk, log)
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := f.follower.Source.(*revocation.HTTP); !ok || h.URL != "https://as.example/revocations" || h.ClientSecret != "s3cret" {
		t.Errorf("over HTTP: %#v", f.follower.Source)
	}
	for file, want := range map[string]string{filepath.Join(dir, "nope"): "no such file", empty: "is empty"} {
		_, err := openRevocations(cfg(func(r *config.GatewayRevocations) { r.ClientID, r.ClientSecretFile = "gw", file }), nil, wk, log)
		if err == nil || !strings.Contains(err.Error(), "gateway.revocations.client_secret_file") || !strings.Contains(err.Error(), want) {
			t.Errorf("secret file %s: %v", file, err)
		}
	}
}
