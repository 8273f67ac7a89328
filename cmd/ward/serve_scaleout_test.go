package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardauth/ward/config"
)

// TestServePostgresNeedsFlowKey: a PostgreSQL-backed start without
// WARD_FLOW_KEY is refused before the database is touched (the DSN points
// at a closed port), because a per-process random flow key breaks every
// login that crosses instances behind a load balancer.
func TestServePostgresNeedsFlowKey(t *testing.T) {
	t.Setenv(envFlowKey, "")
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
	if !errors.Is(err, errNoFlowKey) {
		t.Fatalf("runServe = %v, want errNoFlowKey", err)
	}
}

// TestOpenRedis: the redis section off gives no store; on, a store that
// fails closed against a closed port.
func TestOpenRedis(t *testing.T) {
	rs, err := openRedis(config.DefaultRedis(), nil)
	if err != nil || rs != nil {
		t.Fatalf("redis off: %v, %v; want nil, nil", rs, err)
	}
	r := config.DefaultRedis()
	r.Addr = "127.0.0.1:1"
	rs, err = openRedis(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	if err := rs.Ping(context.Background()); err == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	r.TLS.Enabled = true
	r.TLS.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := openRedis(r, nil); err == nil {
		t.Fatal("a missing redis.tls.ca_file was accepted")
	}
}
