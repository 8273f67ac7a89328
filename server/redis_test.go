package server

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wardauth/ward/config"
)

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
