package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/store/sqlstore"
)

func TestDevBootstrapIsStable(t *testing.T) {
	data := t.TempDir()
	cfg := config.Dev(data)
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(data, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c1, err := devBootstrap(context.Background(), cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := devBootstrap(context.Background(), cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Service.ClientSecret != c2.Service.ClientSecret || c1.User.Password != c2.User.Password {
		t.Fatal("a restart changed the dev credentials")
	}
	fi, err := os.Stat(filepath.Join(data, devCredsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", fi.Mode(), err)
	}
	var back DevCredentials
	b, _ := os.ReadFile(filepath.Join(data, devCredsFile))
	if json.Unmarshal(b, &back) != nil || back.Service.ClientSecret != c1.Service.ClientSecret {
		t.Fatal("credentials file unreadable")
	}
}

func TestHelpers(t *testing.T) {
	if requireLoopback("127.0.0.1:9000") != nil || requireLoopback("[::1]:9") != nil {
		t.Error("loopback refused")
	}
	if requireLoopback("0.0.0.0:9000") == nil || requireLoopback("example.com:80") == nil {
		t.Error("non-loopback accepted in dev mode")
	}
	if _, err := decodeKey32("c2hvcnQ="); err == nil {
		t.Error("short key accepted")
	}
}

// TestDevPairwiseSalt: dev mode creates its pairwise salt once and keeps
// it (a new salt would change every pairwise sub); outside dev mode no
// file is made.
func TestDevPairwiseSalt(t *testing.T) {
	cfg := config.Dev(filepath.Join(t.TempDir(), "data"))
	if err := devPairwiseSalt(cfg); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(cfg.OIDC.PairwiseSaltFile)
	if err != nil || len(first) < 44 {
		t.Fatalf("salt file: %v %q", err, first)
	}
	if err := devPairwiseSalt(cfg); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(cfg.OIDC.PairwiseSaltFile); string(again) != string(first) {
		t.Fatal("the dev salt changed")
	}
	prod := config.Default()
	prod.OIDC.PairwiseSaltFile = filepath.Join(t.TempDir(), "salt")
	if err := devPairwiseSalt(prod); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(prod.OIDC.PairwiseSaltFile); err == nil {
		t.Fatal("a salt file was made outside dev mode")
	}
}
