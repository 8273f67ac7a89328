package interop

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
)

// TestGatewayForeignIssuerNodeOIDCProvider: Ward's gateway alone, with
// no authorization server of Ward's, enforces DPoP for node-oidc-provider's
// tokens (gateway.issuers, OpenID Connect discovery): an RFC 9068 JWT
// (RS256) checked with the provider's keys, and an opaque token checked
// by introspection with a client secret. Both are DPoP-bound; the SDK
// answers the gateway's own nonce challenge; the same token with another
// key's proof, or replayed, is refused.
func TestGatewayForeignIssuerNodeOIDCProvider(t *testing.T) {
	issuer, secret := oidcProvider(t)
	secretFile := filepath.Join(t.TempDir(), "svc-secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gwURL := "http://" + ln.Addr().String()
	seen := make(chan http.Header, 8)
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		_, _ = io.WriteString(w, "ok")
	})
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.PublicURL = true, gwURL
	cfg.Issuers = []config.GatewayIssuer{{Name: "node", Issuer: issuer, Discovery: "oidc", TokenAlgorithms: []string{"RS256"},
		Introspection: config.IssuerIntrospection{ClientID: "svc", ClientSecretFile: secretFile}}}
	for _, name := range []string{"jwt", "opaque"} {
		cfg.Routes = append(cfg.Routes, config.Route{Name: name, PathPrefix: "/" + name + "/", Upstream: "builtin:up",
			Audience: gwURL + "/" + name, Issuers: []string{"node"}, Scopes: []string{"read"},
			Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"client:svc"}}}})
	}
	nonceKey := make([]byte, 32)
	_, _ = rand.Read(nonceKey)
	nonces, err := dpop.NewStatelessNonces(gwURL, time.Minute, nonceKey)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(&cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Nonces: nonces,
		Upstreams: map[string]http.Handler{"builtin:up": upstream}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(gw.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	for _, name := range []string{"jwt", "opaque"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := client.Discover(ctx, issuer, "svc", client.WithClientSecret(secret, client.AuthStyleBasic),
				client.WithScopes("read"), client.WithResource(gwURL+"/"+name))
			if err != nil {
				t.Fatal(err)
			}
			tok, err := c.ClientCredentials(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if isJWT := strings.Count(tok.AccessToken, ".") == 2; isJWT != (name == "jwt") {
				t.Fatalf("token format: JWT %v", isJWT)
			}
			resp, err := c.HTTPClient(oauth2.StaticTokenSource(tok)).Get(gwURL + "/" + name + "/orders")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("gateway answered %d %s (%s)", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
			}
			if h := <-seen; h.Get("X-Ward-Client") != "svc" || h.Get("X-Ward-Jkt") != c.Thumbprint() {
				t.Errorf("identity upstream: client %q jkt %q", h.Get("X-Ward-Client"), h.Get("X-Ward-Jkt"))
			}
			if c.Transport().Nonce(gwURL+"/"+name+"/orders") == "" {
				t.Error("the gateway issued no nonce")
			}
			// Another key's proof for the same token.
			other, err := client.Discover(ctx, issuer, "svc", client.WithClientSecret(secret, client.AuthStyleBasic))
			if err != nil {
				t.Fatal(err)
			}
			resp, err = other.HTTPClient(oauth2.StaticTokenSource(tok)).Get(gwURL + "/" + name + "/orders")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Errorf("proof by another key: %d", resp.StatusCode)
			}
			// The JWT route does not take the opaque token's audience.
			if name == "opaque" {
				resp, err = c.HTTPClient(oauth2.StaticTokenSource(tok)).Get(gwURL + "/jwt/orders")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 401 {
					t.Errorf("token for /opaque on /jwt: %d", resp.StatusCode)
				}
			}
		})
	}
}
