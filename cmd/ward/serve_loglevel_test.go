package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeLogLevel: log.level sets the level of ward serve's logger.
func TestServeLogLevel(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("WARD_KEY_ENCRYPTION_KEY", "")
	t.Setenv("WARD_DPOP_NONCE_SECRET", "")
	t.Setenv("WARD_STORE_DSN", "")
	cfgFile := filepath.Join(dir, "ward.yaml")
	for level, want := range map[string]slog.Level{"debug": slog.LevelDebug, "warn": slog.LevelWarn, "error": slog.LevelError, "": slog.LevelInfo} {
		yaml := `issuer: https://as.example
behind_tls_proxy: {trusted_proxies: [127.0.0.1/32]}
data_dir: ` + dir + `
keys: {kek_file: ` + filepath.Join(dir, "kek") + `}
`
		if level != "" {
			yaml += "log: {level: " + level + "}\n"
		}
		if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		_, logger, err := parseServe([]string{"--config", cfgFile}, &stderr)
		if err != nil {
			t.Fatalf("%q: %v", level, err)
		}
		ctx := context.Background()
		if !logger.Enabled(ctx, want) || logger.Enabled(ctx, want-1) {
			t.Errorf("log.level %q: the logger's level is not %v", level, want)
		}
	}
}
