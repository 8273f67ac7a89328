// Package benchcfg writes the configuration file with which the load
// tests run `ward serve --config` on SQLite or PostgreSQL, with or without
// Redis, instead of `--dev`.
package benchcfg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Server is a generated configuration.
type Server struct {
	Path   string   // the file
	Env    []string // secrets and DSN for the server's environment
	Issuer string   // https://127.0.0.1:PORT (the name in proofs and tokens)
	Base   string   // http://127.0.0.1:PORT (where requests go)
	// ClientID and Secret of the confidential client (client_credentials,
	// scope demo:read, audience GatewayURL).
	ClientID, Secret string
	// GatewayURL, GatewayListen, AdminListen: the gateway's public URL
	// and listeners, when Gateway was set.
	GatewayURL, GatewayListen, AdminListen string
	// Instances holds one file and base URL per instance (Options.Instances);
	// Instances[0] is Path and Base. All share Issuer, the secrets in Env,
	// the store and the Redis key prefix, as instances behind one load
	// balancer do.
	Instances []Instance
	Cleanup   func()
}

// Instance is one `ward serve --config Path` listening on Base.
type Instance struct {
	Path string
	Base string // http://127.0.0.1:PORT
}

// Options select the store and Redis.
type Options struct {
	Store    string // sqlite or postgres
	Postgres string // base DSN; a fresh schema is created, dropped by Cleanup
	Redis    string // host:port, or empty
	// Gateway adds a gateway with route /api/ to Upstream, any client
	// allowed for GET.
	Gateway  bool
	Upstream string
	// Instances is how many configuration files to write (default 1),
	// identical but for listen and data_dir; more than one needs
	// Store postgres and no Gateway.
	Instances int
}

// Write writes the file into dir. The issuer is https on loopback behind
// a trusted proxy (127.0.0.1), so requests go over plain HTTP to Base with
// proofs naming Issuer.
func Write(dir string, o Options) (*Server, error) {
	s := &Server{ClientID: "svc", Secret: randKey(), Cleanup: func() {}}
	n := max(o.Instances, 1)
	if n > 1 && (o.Store != "postgres" || o.Gateway) {
		return nil, fmt.Errorf("%d instances need store postgres and no gateway", n)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s.Issuer, s.Base = "https://"+addr, "http://"+addr
	s.Env = []string{"WARD_KEY_ENCRYPTION_KEY=" + randKey(), "WARD_FLOW_KEY=" + randKey(),
		"WARD_DPOP_NONCE_SECRET=" + randKey(), "BENCH_SVC_SECRET=" + s.Secret}
	store := "{driver: sqlite}"
	switch o.Store {
	case "sqlite":
	case "postgres":
		dsn, drop, err := schema(o.Postgres)
		if err != nil {
			return nil, err
		}
		s.Cleanup = drop
		store = "{driver: postgres}"
		s.Env = append(s.Env, "WARD_STORE_DSN="+dsn)
	default:
		return nil, fmt.Errorf("store %q: want sqlite or postgres", o.Store)
	}
	redis := ""
	if o.Redis != "" {
		redis = fmt.Sprintf("redis: {addr: %q, key_prefix: \"ward:bench:%s:\"}\n", o.Redis, randKey()[:8])
	}
	s.GatewayURL = "https://127.0.0.1:9443"
	gw := ""
	if o.Gateway {
		if s.GatewayListen, err = freeAddr(); err != nil {
			return nil, err
		}
		if s.AdminListen, err = freeAddr(); err != nil {
			return nil, err
		}
		s.GatewayURL = "https://" + s.GatewayListen
		gw = fmt.Sprintf(`gateway:
  enabled: true
  listen: %s
  admin_listen: %s
  behind_tls_proxy: {trusted_proxies: [127.0.0.1/32]}
  public_url: %s
  routes:
    - name: api
      path_prefix: /
      upstream: %s
      policy: [{name: read, action: allow, principals: ["*"], methods: [GET]}]
`, s.GatewayListen, s.AdminListen, s.GatewayURL, o.Upstream)
	}
	for i := 0; i < n; i++ {
		listen, data, path := addr, filepath.Join(dir, "data"), filepath.Join(dir, "ward.yaml")
		if i > 0 {
			if listen, err = freeAddr(); err != nil {
				s.Cleanup()
				return nil, err
			}
			data = filepath.Join(dir, fmt.Sprintf("data-%d", i))
			path = filepath.Join(dir, fmt.Sprintf("ward-%d.yaml", i))
		}
		text := fmt.Sprintf(`issuer: %s
listen: %s
behind_tls_proxy: {trusted_proxies: [127.0.0.1/32]}
data_dir: %s
store: %s
# The load generator floods /token from one address on purpose: the
# default per-IP request rates would measure the limiter, not the server.
rate_limits: {token: {ip: {off: true}}, par: {ip: {off: true}}, login: {ip: {off: true}}}
%sclients:
  - id: svc
    auth_method: client_secret_basic
    secret_env: BENCH_SVC_SECRET
    grant_types: [client_credentials]
    scopes: [demo:read]
    audiences: [%s]
%s`, s.Issuer, listen, data, store, redis, s.GatewayURL, gw)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			s.Cleanup()
			return nil, err
		}
		s.Instances = append(s.Instances, Instance{Path: path, Base: "http://" + listen})
	}
	s.Path = s.Instances[0].Path
	return s, nil
}

func randKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// schema creates a fresh schema on base and returns a DSN using it.
func schema(base string) (string, func(), error) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "ward_bench_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		db.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP SCHEMA "+name+" CASCADE")
		db.Close()
	}, nil
}
