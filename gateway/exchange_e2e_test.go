package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/authztest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/store"
)

// TestGatewayTokenExchangeWithWard: the whole chain with Ward's own
// authorization server. A caller gets a DPoP-bound token for the gateway;
// the gateway, a private_key_jwt client with a token_exchange policy,
// exchanges it for the upstream's audience; the upstream verifies the
// token it receives against Ward's keys with the gateway's proof, finds
// the caller as sub and the gateway in act, and never sees the caller's
// token.
func TestGatewayTokenExchangeWithWard(t *testing.T) {
	ctx := context.Background()
	ak, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ak.PublicKey, KeyID: "gw1", Algorithm: "ES256", Use: "sig"}}})
	as := authztest.New(t, authztest.Options{
		Clients: []store.Client{
			{ID: "caller", AuthMethod: oauth.AuthSecretBasic, GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials},
				Scopes: []string{"inventory:read", "inventory:write"}, Audiences: []string{publicURL}},
			{ID: "gw", AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks, GrantTypes: []oauth.GrantType{oauth.GrantTokenExchange}},
		},
		Config: func(c *config.Config) {
			c.Clients = append(c.Clients, config.Client{ID: "gw", TokenExchange: &config.TokenExchange{
				SubjectAudiences: []string{publicURL}, Audiences: []string{exchangeAud}, Scopes: []string{"inventory:read"}}})
		},
	})
	set := wardKeys(t, as.URL)
	// The caller: a DPoP-bound token for the gateway.
	ck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cc, err := client.New(client.Endpoint{Issuer: as.URL, TokenURL: as.URL + "/token"}, "caller",
		client.WithClientSecret(as.Secrets["caller"], client.AuthStyleBasic), client.WithKey(ck),
		client.WithResource(publicURL), client.WithScopes("inventory:read", "inventory:write"))
	if err != nil {
		t.Fatal(err)
	}
	callerTok, err := cc.ClientCredentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The upstream: Ward's tokens for its audience, with a proof.
	v, _ := dpop.NewVerifier()
	rs, err := resource.New(resource.Config{Issuer: as.URL, Audience: exchangeAud, DPoP: v, Keys: resource.StaticKeys(set)})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var saw []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		for _, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, callerTok.AccessToken) {
					saw = append(saw, "caller token seen")
				}
			}
		}
		id, err := rs.Authenticate(r, resource.Requirement{Scopes: []string{"inventory:read"}})
		if err != nil {
			saw = append(saw, err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, cl := jwtClaims(t, strings.TrimPrefix(r.Header.Get("Authorization"), "DPoP "))
		act, _ := cl["act"].(map[string]any)
		saw = append(saw, "ok "+id.Subject+" "+id.ClientID+" "+strings.Join(id.Scopes, ",")+" act="+act["sub"].(string))
	}))
	t.Cleanup(up.Close)
	// The gateway.
	der, _ := x509.MarshalPKCS8PrivateKey(ak)
	keyFile := filepath.Join(t.TempDir(), "gw.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.Issuer, cfg.PublicURL = true, as.URL, publicURL
	cfg.TokenExchange = config.GatewayTokenExchange{ClientID: "gw", PrivateKeyFile: keyFile, KeyID: "gw1"}
	cfg.Routes = []config.Route{{Name: "inventory", PathPrefix: "/inventory/", Upstream: up.URL,
		Exchange: &config.RouteExchange{Audience: exchangeAud},
		Policy:   []config.PolicyRule{{Action: "allow", Principals: []string{"client:caller"}}}}}
	gw, err := gateway.New(&cfg, gateway.Options{Keys: resource.StaticKeys(set), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := dpop.NewSigner(ck)
	for range 2 {
		r := httptest.NewRequest(http.MethodGet, publicURL+"/inventory/items", nil)
		p, _ := cs.Proof(http.MethodGet, publicURL+"/inventory/items", dpop.WithAccessToken(callerTok.AccessToken))
		r.Header.Set("Authorization", "DPoP "+callerTok.AccessToken)
		r.Header.Set("DPoP", p)
		w := httptest.NewRecorder()
		gw.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("gateway %d %s; upstream %q", w.Code, w.Body, saw)
		}
	}
	want := "ok caller gw inventory:read act=gw"
	if len(saw) != 2 || saw[0] != want || saw[1] != want {
		t.Fatalf("upstream saw %q, want twice %q", saw, want)
	}
}

// wardKeys fetches the authorization server's JWKS.
func wardKeys(t *testing.T, issuer string) jose.JSONWebKeySet {
	t.Helper()
	var md struct {
		JWKSURI string `json:"jwks_uri"`
	}
	var set jose.JSONWebKeySet
	for _, f := range []struct {
		u   func() string
		out any
	}{{func() string { return issuer + "/.well-known/oauth-authorization-server" }, &md}, {func() string { return md.JWKSURI }, &set}} {
		resp, err := http.Get(f.u())
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(f.out)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return set
}

// jwtClaims decodes a compact JWS's header and claims without verifying.
func jwtClaims(t *testing.T, tok string) (map[string]any, map[string]any) {
	parts := strings.Split(tok, ".")
	var h, c map[string]any
	for i, out := range []*map[string]any{&h, &c} {
		if len(parts) != 3 {
			return nil, nil
		}
		b, _ := base64.RawURLEncoding.DecodeString(parts[i])
		_ = json.Unmarshal(b, out)
	}
	return h, c
}
