package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/server"
)

// TestServePostgresNeedsFlowKey: a PostgreSQL-backed start without
// WARD_FLOW_KEY is refused before the database is touched (the DSN points
// at a closed port), because a per-process random flow key breaks every
// login that crosses instances behind a load balancer.
func TestServePostgresNeedsFlowKey(t *testing.T) {
	t.Setenv(server.EnvFlowKey, "")
	t.Setenv(config.EnvStoreDSN, "")
	path := filepath.Join(t.TempDir(), "ward.yaml")
	yaml := `issuer: https://auth.example.com
behind_tls_proxy: {trusted_proxies: [10.0.0.0/8]}
store: {driver: postgres, dsn: "postgres://ward@127.0.0.1:1/ward?connect_timeout=1"}
keys: {kek_file: /nonexistent/kek}
redis: {addr: "127.0.0.1:1"}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := runServe(context.Background(), []string{"--config", path}, &out, &errOut)
	if !errors.Is(err, server.ErrNoFlowKey) {
		t.Fatalf("runServe = %v, want server.ErrNoFlowKey", err)
	}
}
