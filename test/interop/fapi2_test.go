package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/fapi"
	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

const (
	fapiClient   = "tpp"     // private_key_jwt, DPoP
	fapiPublic   = "tpp-spa" // public: refused under the profile
	fapiCallback = "https://tpp.interop.example/cb"
)

// fapiWard is Ward's authorization server under fapi2-security, over TLS
// (httptest's certificate, which node trusts through NODE_EXTRA_CA_CERTS),
// with DPoP nonces required.
type fapiWard struct {
	srv    *httptest.Server
	issuer string
	caFile string
	jwk    []byte // the private_key_jwt client's private JWK
}

func newFAPIWard(t *testing.T) *fapiWard {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &fapiWard{srv: httptest.NewUnstartedServer(nil)}
	w.issuer = "https://" + w.srv.Listener.Addr().String()

	cfg := config.Default()
	cfg.Issuer = w.issuer
	cfg.AuthorizationServer.Profile = fapi.Security
	cfg.DPoP.Nonce.Enabled = true

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv := jose.JSONWebKey{Key: key, KeyID: "tpp-1", Algorithm: "ES256", Use: "sig"}
	w.jwk, _ = priv.MarshalJSON()
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{priv.Public()}})
	now := time.Now()
	for _, c := range []store.Client{
		{ID: fapiClient, Name: "openid-client (FAPI 2.0)", AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: set,
			RedirectURIs: []string{fapiCallback}, Scopes: []string{"accounts"}, Audiences: []string{rsAudience}},
		{ID: fapiPublic, AuthMethod: oauth.AuthNone, RedirectURIs: []string{callback}, Scopes: []string{"accounts"},
			GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}},
	} {
		if _, err := authz.CreateClient(ctx, st, &c, now); err != nil {
			t.Fatal(err)
		}
	}
	ph, err := password.Hash(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, &store.User{Subject: testSubject, Username: testUser, PasswordHash: ph, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	var kek keys.KEK
	rand.Read(kek[:])
	km, err := keys.New(st, []keys.KEK{kek}, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.EnsureKey(ctx, now); err != nil {
		t.Fatal(err)
	}
	nonceSecret := make([]byte, 32)
	rand.Read(nonceSecret)
	as, err := authz.New(cfg, authz.Options{Store: st, Keys: km, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NonceSecret: nonceSecret})
	if err != nil {
		t.Fatal(err)
	}
	w.srv.Config.Handler = as.Handler()
	w.srv.StartTLS()
	t.Cleanup(w.srv.Close)
	w.caFile = filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.srv.Certificate().Raw})
	if err := os.WriteFile(w.caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// fapiResult is what interop/fapi2-client.mjs prints at the end.
type fapiResult struct {
	Error  *npmError `json:"error"`
	Stage  string    `json:"stage"`
	Result *struct {
		TokenType             string `json:"token_type"`
		AccessToken           string `json:"access_token"`
		HasRefreshToken       bool   `json:"has_refresh_token"`
		RefreshedTokenType    string `json:"refreshed_token_type"`
		RefreshedRefreshToken string `json:"refreshed_refresh_token"`
		AgainAccessToken      string `json:"again_access_token"`
	} `json:"result"`
}

// runFAPI runs the script for client in mode and plays the browser.
func (w *fapiWard) run(t *testing.T, client, redirect, mode string) fapiResult {
	t.Helper()
	node := needNode(t, "openid-client", "jose")
	env := []string{"NODE_EXTRA_CA_CERTS=" + w.caFile, "FAPI_CLIENT_JWK=" + string(w.jwk)}
	sc := startScriptEnv(t, env, node, "fapi2-client.mjs", w.issuer, client, redirect, "accounts", mode)
	var start struct {
		Authorize string    `json:"authorize"`
		Error     *npmError `json:"error"`
		Stage     string    `json:"stage"`
	}
	sc.next(&start)
	if start.Error != nil {
		return fapiResult{Error: start.Error, Stage: start.Stage}
	}
	if !strings.HasPrefix(start.Authorize, w.issuer+authz.PathAuthorize+"?") || !strings.Contains(start.Authorize, "request_uri=") {
		t.Fatalf("authorization URL %q: want a pushed request at %s", start.Authorize, w.issuer+authz.PathAuthorize)
	}
	final, err := wardtest.BrowserLoginWith(w.srv.Client().Transport, start.Authorize, testUser, testPassword, "allow")
	if err != nil {
		t.Fatal(err)
	}
	if got := final.Query().Get("iss"); got != w.issuer {
		t.Fatalf("redirect %s: iss %q, want %q (RFC 9207)", final, got, w.issuer)
	}
	sc.send(final.String())
	var res fapiResult
	sc.next(&res)
	return res
}

// TestOpenIDClientFAPI2: openid-client with private_key_jwt, PAR and DPoP
// against a fapi2-security Ward: DPoP-bound tokens, and refresh tokens
// that do not rotate (FAPI 2.0 Security Profile §5.3.2.1).
func TestOpenIDClientFAPI2(t *testing.T) {
	w := newFAPIWard(t)
	res := w.run(t, fapiClient, fapiCallback, "pkjwt")
	if res.Error != nil || res.Result == nil {
		t.Fatalf("openid-client failed at %s: %+v", res.Stage, res.Error)
	}
	r := res.Result
	if r.TokenType != "dpop" && r.TokenType != "DPoP" {
		t.Errorf("token_type %q, want DPoP", r.TokenType)
	}
	_, cl := decodeJWT(t, r.AccessToken)
	if cnf, _ := cl["cnf"].(map[string]any); cnf["jkt"] == nil {
		t.Errorf("access token cnf %v: not DPoP-bound", cl["cnf"])
	}
	if !r.HasRefreshToken || r.RefreshedRefreshToken != "" || r.AgainAccessToken == "" {
		t.Errorf("refresh under the profile: first %v, rotated to %q, second refresh ok %v; want no rotation",
			r.HasRefreshToken, r.RefreshedRefreshToken, r.AgainAccessToken != "")
	}
}

// TestOpenIDClientFAPI2PublicRefused: a public client is refused at the
// PAR endpoint with invalid_client under fapi2-security (§5.3.2.1).
func TestOpenIDClientFAPI2PublicRefused(t *testing.T) {
	w := newFAPIWard(t)
	res := w.run(t, fapiPublic, callback, "public")
	if res.Error == nil || res.Stage != "par" || res.Error.Error != oauth.InvalidClient || res.Error.Status != http.StatusUnauthorized {
		t.Fatalf("public client under the profile: %+v at %q, want invalid_client (401) at par", res.Error, res.Stage)
	}
}
