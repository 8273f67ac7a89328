package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/server"
)

// A gateway in front of another authorization server's tokens, started
// and stopped in process: New opens and listens (port 0: any free port),
// Banner says what is served, Serve serves until its context ends.
func Example() {
	dir, err := os.MkdirTemp("", "ward-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ward.yaml")
	yaml := `issuer: https://as.example
authorization_server: {enabled: false}
gateway:
  enabled: true
  listen: 127.0.0.1:0
  admin_listen: localhost:0
  public_url: https://api.example
  revocations: {disabled: true}
  routes:
    - {name: open, path_prefix: /open/, upstream: builtin:demo, unauthenticated: true}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		panic(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s, err := server.New(ctx, cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	s.Banner(os.Stdout)
	stop() // as SIGTERM would: drain and return
	fmt.Println("Serve:", s.Serve(ctx))
	// Output:
	// ward: authorization server off (authorization_server.enabled: false); tokens of https://as.example are checked
	// ward: gateway https://api.example (listening on 127.0.0.1:0), admin (metrics, health) on http://localhost:0
	// Serve: <nil>
}
