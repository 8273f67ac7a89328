package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/bff"
	"github.com/wardauth/ward/config"
)

// TestOpenBFF: the sites of gateway.bff become gateway mounts; a missing
// or empty secret file and a bad session key name the key that is wrong.
func TestOpenBFF(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	site := config.BFF{Name: "shop", PublicURL: "https://shop.example", ClientID: "shop-bff", ClientSecretFile: secret, API: "https://api.example"}
	cfg := config.Default()
	cfg.Issuer = "https://as.example"
	cfg.Gateway.BFF = []config.BFF{site}
	mounts, err := openBFF(cfg, nil, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 1 || mounts[0].Name != "bff-shop" || mounts[0].Host != "shop.example" || mounts[0].PathPrefix != "/bff" {
		t.Fatalf("%+v", mounts)
	}
	if s, ok := mounts[0].Handler.(*bff.Site); !ok || s.SessionCookie() != "__Host-ward-bff-shop" {
		t.Fatalf("handler %T", mounts[0].Handler)
	}

	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	shortKey := filepath.Join(dir, "short")
	os.WriteFile(shortKey, []byte("c2hvcnQ=\n"), 0o600)
	for _, c := range []struct {
		name string
		mod  func(*config.BFF)
		want string
	}{
		{"missing secret", func(b *config.BFF) { b.ClientSecretFile = filepath.Join(dir, "nope") }, "gateway.bff[0] (shop).client_secret_file: open"},
		{"empty secret", func(b *config.BFF) { b.ClientSecretFile = empty }, "gateway.bff[0] (shop).client_secret_file: " + empty + " is empty"},
		{"short session key", func(b *config.BFF) { b.Session.KeyFile = shortKey }, "gateway.bff[0] (shop).session.key_file:"},
		{"redis store without redis", func(b *config.BFF) { b.Session.Store = "redis" }, "gateway.bff[0] (shop).session.store: redis needs the redis section"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := site
			c.mod(&b)
			cfg.Gateway.BFF = []config.BFF{b}
			_, err := openBFF(cfg, nil, nil, prometheus.NewRegistry())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
