package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

func ward(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := run(context.Background(), args, &out, &out)
	return out.String(), code
}

func TestClientUserKeysCommands(t *testing.T) {
	data := t.TempDir()
	dev := []string{"--dev", "--data", data}
	out, code := ward(t, append([]string{"client", "create", "--id", "svc", "--grant-type", "client_credentials", "--scope", "read,write", "--audience", "https://api.example.com"}, dev...)...)
	if code != 0 || !strings.Contains(out, "client_secret: ") {
		t.Fatalf("create: %d %s", code, out)
	}
	secret := strings.Fields(strings.SplitN(out, "client_secret: ", 2)[1])[0]
	if len(secret) < 43 {
		t.Fatalf("secret %q shorter than 256 bits", secret)
	}
	out, code = ward(t, append([]string{"client", "show", "svc"}, dev...)...)
	if code != 0 || strings.Contains(out, secret) || strings.Contains(out, "SecretHash\": \"") {
		t.Fatalf("show leaks or fails: %d %s", code, out)
	}
	// OAuth 2.1 grants that were removed, and open redirects, are refused
	// with the key named.
	out, code = ward(t, append([]string{"client", "create", "--id", "bad", "--grant-type", "password", "--redirect-uri", "http://evil.example.com/cb"}, dev...)...)
	if code != 1 || !strings.Contains(out, "grant_types") || !strings.Contains(out, "redirect_uris") {
		t.Fatalf("bad client: %d %s", code, out)
	}
	if out, code = ward(t, append([]string{"client", "create", "--id", "svc"}, dev...)...); code != 1 {
		t.Fatalf("duplicate: %d %s", code, out)
	}
	if out, code = ward(t, append([]string{"client", "delete", "svc"}, dev...)...); code != 0 {
		t.Fatalf("delete: %d %s", code, out)
	}
	if out, code = ward(t, append([]string{"client", "show", "svc"}, dev...)...); code != 1 || !strings.Contains(out, "not found") {
		t.Fatalf("show deleted: %d %s", code, out)
	}

	out, code = ward(t, append([]string{"user", "create", "--username", "alice"}, dev...)...)
	if code != 0 || !strings.Contains(out, "password: ") {
		t.Fatalf("user create: %d %s", code, out)
	}
	if out, code = ward(t, append([]string{"user", "set-password", "--username", "alice"}, dev...)...); code != 0 {
		t.Fatalf("set-password: %d %s", code, out)
	}
	// logout ends the user's sessions (authz.EndUserSessions, tested in
	// authz); here: the command reaches it.
	putSession(t, data, "alice")
	if out, code = ward(t, append([]string{"user", "logout", "--username", "alice"}, dev...)...); code != 0 || !strings.Contains(out, "ended 1 session(s) of alice") {
		t.Fatalf("user logout: %d %s", code, out)
	}
	if out, code = ward(t, append([]string{"user", "logout", "--username", "alice"}, dev...)...); code != 0 || !strings.Contains(out, "ended 0 session(s)") {
		t.Fatalf("user logout again: %d %s", code, out)
	}
	if out, code = ward(t, append([]string{"user", "delete", "--username", "alice"}, dev...)...); code != 0 {
		t.Fatalf("user delete: %d %s", code, out)
	}

	if out, code = ward(t, append([]string{"keys", "list"}, dev...)...); code != 0 {
		t.Fatalf("keys list: %d %s", code, out)
	}
	if out, code = ward(t, append([]string{"keys", "rotate"}, dev...)...); code != 0 || !strings.Contains(out, "new key") {
		t.Fatalf("keys rotate: %d %s", code, out)
	}
	if out, code = ward(t, append([]string{"keys", "list"}, dev...)...); code != 0 || !strings.Contains(out, "next") {
		t.Fatalf("keys list after rotate: %d %s", code, out)
	}
	if out, code = ward(t, "client", "list"); code != 1 || !strings.Contains(out, "--config") {
		t.Fatalf("no config: %d %s", code, out)
	}
}

// TestClientCreateRedirectRules: ward client create applies the server's
// rules: a confidential client's loopback redirect URI must name its port
// (it is compared exactly; any port is for public clients, RFC 8252
// §7.3), and --allow-remembered-consent is kept for a public client and
// refused for a confidential one.
func TestClientCreateRedirectRules(t *testing.T) {
	dev := []string{"--dev", "--data", t.TempDir()}
	out, code := ward(t, append([]string{"client", "create", "--id", "conf", "--redirect-uri", "http://127.0.0.1/cb"}, dev...)...)
	if code != 1 || !strings.Contains(out, "redirect_uris") || !strings.Contains(out, "no port") {
		t.Fatalf("confidential, portless loopback: %d %s", code, out)
	}
	if out, code = ward(t, append([]string{"client", "create", "--id", "conf", "--redirect-uri", "http://127.0.0.1:9999/cb"}, dev...)...); code != 0 {
		t.Fatalf("confidential, loopback with port: %d %s", code, out)
	}
	out, code = ward(t, append([]string{"client", "create", "--id", "conf2", "--redirect-uri", "https://app.example/cb", "--allow-remembered-consent"}, dev...)...)
	if code != 1 || !strings.Contains(out, "allow_remembered_consent") {
		t.Fatalf("confidential, remembered consent: %d %s", code, out)
	}
	if out, code = ward(t, append([]string{"client", "create", "--id", "cli", "--auth-method", "none", "--redirect-uri", "http://127.0.0.1/cb", "--allow-remembered-consent"}, dev...)...); code != 0 {
		t.Fatalf("public client: %d %s", code, out)
	}
	out, code = ward(t, append([]string{"client", "show", "cli"}, dev...)...)
	if code != 0 || !strings.Contains(out, `"AllowRememberedConsent": true`) {
		t.Fatalf("show: %d %s", code, out)
	}
}

// putSession stores a live login session of username in the dev store.
func putSession(t *testing.T, data, username string) {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(data, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUserByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	n := time.Now()
	if err := st.PutSession(context.Background(), &store.Session{Hash: []byte("session of " + username), Subject: u.Subject,
		AuthTime: n, CreatedAt: n, ExpiresAt: n.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}
