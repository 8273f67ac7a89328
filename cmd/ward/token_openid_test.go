package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardauth/ward/internal/authztest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// openIDServer is tokenServer's public client cli with openid and
// profile, and alice with a name.
func openIDServer(t *testing.T) (data string) {
	t.Helper()
	as := authztest.New(t, authztest.Options{
		Clients: []store.Client{{ID: "cli", AuthMethod: oauth.AuthNone, GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			Scopes: []string{"read", "openid", "profile"}, Audiences: []string{"https://api.example"}, RedirectURIs: []string{"http://127.0.0.1/callback"},
			SenderConstraint: store.ConstraintDPoP}},
		Users: []authztest.User{{Subject: "u-alice", Username: "alice", Password: cliTestPassword, Claims: store.UserClaims{Name: "Alice Martin"}}},
	})
	data = t.TempDir()
	var dc devCredentials
	dc.Issuer = as.URL
	dc.Public.ClientID, dc.Public.Scope = "cli", "read"
	b, _ := json.Marshal(dc)
	if err := os.WriteFile(filepath.Join(data, "dev-credentials.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestTokenOpenID: `ward token --openid --userinfo` signs in with
// openid, prints the claims of the ID token the SDK verified (nonce,
// at_hash, signature) and UserInfo's answer to the DPoP-bound token.
func TestTokenOpenID(t *testing.T) {
	data := openIDServer(t)
	old := openBrowser
	openBrowser = browserLogin(t)
	defer func() { openBrowser = old }()
	code, out, errs := runCLI(t, "token", "--dev", "--data", data, "--openid", "--scope", "openid profile", "--userinfo", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got struct {
		Claims   map[string]any `json:"id_token_claims"`
		UserInfo map[string]any `json:"userinfo"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	c := got.Claims
	if c["sub"] != "u-alice" || c["aud"] != "cli" || c["nonce"] == nil || c["at_hash"] == nil || c["auth_time"] == nil {
		t.Fatalf("claims %v", c)
	}
	if got.UserInfo["sub"] != "u-alice" || got.UserInfo["name"] != "Alice Martin" {
		t.Fatalf("userinfo %v", got.UserInfo)
	}
	if strings.Count(out, ".") > 20 {
		t.Fatalf("a token was printed: %s", out)
	}
}

func TestTokenUserInfoNeedsOpenID(t *testing.T) {
	code, _, errs := runCLI(t, "token", "--dev", "--userinfo")
	if code != 2 || !strings.Contains(errs, "--userinfo needs --openid") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}
