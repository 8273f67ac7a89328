package interop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/server"
)

// served is Ward's authorization server as `ward serve` runs it
// (server.New, Banner, Serve: the store, keys, static clients and users
// from the configuration, the listeners), on a free loopback port in dev
// mode (http issuer), with the OpenID Connect relying party rpClient (and
// rpClient-rs256, its RS256 twin, with the same secret) and alice, declared as a configuration file would declare them.
type served struct {
	issuer string
	secret string
}

func serveWard(t *testing.T) *served {
	t.Helper()
	addr := wardtest.FreeAddr(t)
	s := &served{issuer: "http://" + addr, secret: wardtest.RandKey()}
	sum := sha256.Sum256([]byte(s.secret))
	cfg := config.Dev(filepath.Join(t.TempDir(), "data"))
	cfg.Issuer, cfg.Listen = s.issuer, addr
	cfg.Clients = []config.Client{{
		ID: rpClient, Name: "OpenID Connect RP", AuthMethod: oauth.AuthSecretBasic, SecretHash: hex.EncodeToString(sum[:]),
		RedirectURIs: []string{rpCallback}, PostLogoutRedirectURIs: []string{rpLogout},
		GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		Scopes:     []string{"openid", "profile", "email"}, Audiences: []string{"https://api.interop.example"},
	}, {
		// The same relying party signing with RS256, as many libraries
		// expect (id_token_signed_response_alg).
		ID: rpClient + "-rs256", Name: "OpenID Connect RP (RS256)", AuthMethod: oauth.AuthSecretBasic, SecretHash: hex.EncodeToString(sum[:]),
		RedirectURIs: []string{rpCallback}, IDTokenSignedResponseAlg: "RS256",
		GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		Scopes:     []string{"openid", "profile"}, Audiences: []string{"https://api.interop.example"},
	}}
	cfg.Users = []config.User{{Subject: testSubject, Username: testUser, PasswordEnv: "WARD_INTEROP_ALICE_PASSWORD",
		Claims: `{"name":"Alice Martin","email":"alice@example.com","email_verified":true}`}}
	// As the environment would give it (password_env); nothing else of
	// the environment is read.
	env := func(k string) (string, bool) { return testPassword, k == "WARD_INTEROP_ALICE_PASSWORD" }
	if err := cfg.ApplyEnv(env); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		stop()
		t.Fatal(err)
	}
	srv.Banner(io.Discard)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		srv.Close()
	})
	if err := wardtest.WaitOK(&http.Client{Timeout: 2 * time.Second}, s.issuer+"/.well-known/openid-configuration"); err != nil {
		t.Fatal(err)
	}
	return s
}
