// Package authztest runs Ward's authorization server in process for other
// packages' tests: a SQLite store in the test's temporary folder, a fresh
// KEK and signing key, the given clients and users, and an http issuer on
// a loopback port. It is imported only by tests.
//
// It is apart from internal/wardtest because it imports authz, which
// imports packages (ratelimit) whose own tests import wardtest.
package authztest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// User is a user to create, with a clear-text password.
type User struct {
	Subject, Username, Password string
	// Claims are the user's OpenID Connect claims.
	Claims store.UserClaims
}

// Options say what the server holds and how it runs.
type Options struct {
	// Clients to create; confidential clients' generated secrets are in
	// Server.Secrets.
	Clients []store.Client
	Users   []User
	// Config changes the configuration (issuer already set; DPoP nonces
	// off, with a fixed nonce secret so that turning them on needs only
	// Enabled).
	Config func(*config.Config)
	// Wrap wraps the server's handler, for example to count requests.
	Wrap func(http.Handler) http.Handler
	// Server is an unstarted httptest server to use (when the caller
	// needs its address before the server exists, for redirect URIs);
	// default a new one.
	Server *httptest.Server
	// TLS, when set, serves the issuer over https with this
	// configuration (for example mtls.ServerConfig's, asking for client
	// certificates).
	TLS *tls.Config
	// MTLS is authz.Options.MTLS: where client certificates (RFC 8705)
	// come from; with TLS, &mtls.TrustedProxy{Roots: ...} of the same
	// ServerConfig.
	MTLS *mtls.TrustedProxy
}

// Server is the running authorization server.
type Server struct {
	// URL is the issuer, http://127.0.0.1:port.
	URL     string
	HTTP    *httptest.Server
	Store   store.Store
	Secrets map[string]string
}

// New starts a server; everything is closed at the test's end.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hs := o.Server
	if hs == nil {
		hs = httptest.NewUnstartedServer(nil)
	}
	scheme := "http://"
	if o.TLS != nil {
		scheme = "https://"
	}
	s := &Server{URL: scheme + hs.Listener.Addr().String(), HTTP: hs, Store: st, Secrets: map[string]string{}}
	cfg := config.Default()
	cfg.Issuer = s.URL
	cfg.DPoP.Nonce.Secret = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	if o.Config != nil {
		o.Config(cfg)
	}
	now := time.Now()
	for _, c := range o.Clients {
		secret, err := authz.CreateClient(ctx, st, &c, now)
		if err != nil {
			t.Fatalf("client %s: %v", c.ID, err)
		}
		if secret != "" {
			s.Secrets[c.ID] = secret
		}
	}
	for _, u := range o.Users {
		ph, err := password.Hash(u.Password)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateUser(ctx, &store.User{Subject: u.Subject, Username: u.Username, PasswordHash: ph, Claims: u.Claims, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	var kek keys.KEK
	if _, err := rand.Read(kek[:]); err != nil {
		t.Fatal(err)
	}
	km, err := keys.New(st, []keys.KEK{kek}, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.EnsureKey(ctx, now); err != nil {
		t.Fatal(err)
	}
	as, err := authz.New(cfg, authz.Options{Store: st, Keys: km, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MTLS: o.MTLS})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = as.Handler()
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	hs.Config.Handler = h
	if o.TLS != nil {
		hs.TLS = o.TLS
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(hs.Close)
	return s
}
