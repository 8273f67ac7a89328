package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wardauth/ward/config"
)

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
