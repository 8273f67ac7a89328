package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/authztest"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

const cliTestPassword = "correct horse battery staple"

// tokenServer starts Ward's authorization server in-process on a loopback
// port (http issuer, nonces on) with a confidential client svc and a
// public client cli, and writes a dev-credentials.json for them in a temp
// data folder, which it returns with the issuer and svc's secret.
func tokenServer(t *testing.T) (issuer, secret, data string) {
	t.Helper()
	as := authztest.New(t, authztest.Options{
		Clients: []store.Client{
			{ID: "svc", AuthMethod: oauth.AuthSecretBasic, GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, Scopes: []string{"read"}, Audiences: []string{"https://api.example"}, RedirectURIs: []string{"https://x.example/cb"}},
			{ID: "cli", AuthMethod: oauth.AuthNone, GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, Scopes: []string{"read"}, Audiences: []string{"https://api.example"}, RedirectURIs: []string{"http://127.0.0.1/callback"}},
		},
		Users:  []authztest.User{{Subject: "u-alice", Username: "alice", Password: cliTestPassword}},
		Config: func(c *config.Config) { c.DPoP.Nonce.Enabled = true },
	})
	issuer, secret = as.URL, as.Secrets["svc"]

	data = t.TempDir()
	var dc devCredentials
	dc.Issuer = issuer
	dc.Service.ClientID, dc.Service.ClientSecret, dc.Service.Scope = "svc", secret, "read"
	dc.Public.ClientID, dc.Public.Scope = "cli", "read"
	b, _ := json.Marshal(dc)
	if err := os.WriteFile(filepath.Join(data, "dev-credentials.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return issuer, secret, data
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	checkCLIOutput(t, args, out.String()+errb.String())
	return code, out.String(), errb.String()
}

func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(jwt), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func TestTokenClientCredentials(t *testing.T) {
	issuer, secret, data := tokenServer(t)
	keyFile := filepath.Join(t.TempDir(), "k.pem")
	for _, tc := range []struct {
		name string
		env  string
		args []string
		code int
		want string // in stderr
	}{
		{"flags", "", []string{"token", "--issuer", issuer, "--client-id", "svc", "--client-secret", secret, "--scope", "read", "--key-file", keyFile, "--show-key"}, 0, "jkt="},
		{"env secret", secret, []string{"token", "--issuer", issuer, "--client-id", "svc"}, 0, "--key-file"},
		{"dev credentials", "", []string{"token", "--dev", "--data", data}, 0, ""},
		{"no secret", "", []string{"token", "--issuer", issuer, "--client-id", "svc"}, 2, "WARD_CLIENT_SECRET"},
		{"wrong secret", "", []string{"token", "--issuer", issuer, "--client-id", "svc", "--client-secret", "nope"}, 1, "invalid_client"},
		{"no client", "", []string{"token", "--issuer", issuer}, 2, "--client-id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("WARD_CLIENT_SECRET", tc.env)
			code, out, errs := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tc.code, errs, tc.want)
			}
			if code != 0 {
				return
			}
			cl := claimsOf(t, out)
			cnf, _ := cl["cnf"].(map[string]any)
			if cl["client_id"] != "svc" || cnf["jkt"] == nil {
				t.Fatalf("claims %v", cl)
			}
			if strings.Contains(errs, "jkt=") && !strings.Contains(errs, "jkt="+cnf["jkt"].(string)) {
				t.Fatalf("--show-key printed another key: %s", errs)
			}
		})
	}
	// The key file is reused: the same jkt.
	_, out1, _ := runCLI(t, "token", "--dev", "--data", data, "--key-file", keyFile)
	_, out2, _ := runCLI(t, "token", "--dev", "--data", data, "--key-file", keyFile)
	j1 := claimsOf(t, out1)["cnf"].(map[string]any)["jkt"]
	j2 := claimsOf(t, out2)["cnf"].(map[string]any)["jkt"]
	if j1 != j2 || j1 == nil {
		t.Fatalf("jkt %v then %v with one key file", j1, j2)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "token", "--dev", "--data", data, "--key-file", keyFile); code != 1 || !strings.Contains(errs, "chmod 600") {
		t.Fatalf("world-readable key file: exit %d %q", code, errs)
	}
}

// browserLogin is an openBrowser that signs alice in and consents
// (wardtest.BrowserLogin), then lets the browser reach the CLI's loopback
// redirect.
func browserLogin(t *testing.T) func(string) error {
	t.Helper()
	return func(authURL string) error {
		final, err := wardtest.BrowserLogin(authURL, "alice", cliTestPassword, "allow")
		if err != nil {
			return err
		}
		go func() {
			if r, err := http.Get(final.String()); err == nil {
				r.Body.Close()
			}
		}()
		return nil
	}
}

func TestTokenAuthorizationCode(t *testing.T) {
	_, _, data := tokenServer(t)
	old := openBrowser
	openBrowser = browserLogin(t)
	defer func() { openBrowser = old }()
	code, out, errs := runCLI(t, "token", "--dev", "--data", data, "--authorization-code", "--json", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "sign in at") {
		t.Fatalf("the URL was not shown: %q", errs)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	cl := claimsOf(t, got["access_token"].(string))
	cnf, _ := cl["cnf"].(map[string]any)
	if got["token_type"] != "DPoP" || got["refresh_token"] == nil || cl["sub"] != "u-alice" || cl["client_id"] != "cli" || cnf["jkt"] != got["jkt"] {
		t.Fatalf("output %v claims %v", got, cl)
	}
}
