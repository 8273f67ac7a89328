package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminCommandsNeedNoRuntimeSecrets: `ward client|user|keys list
// --config` run with a configuration whose runtime secrets (the KEK, the
// DPoP nonce secret, a client's secret_env and a user's password_env) are
// all absent, because they only use the store; `ward keys rotate`, which
// encrypts a new key, still asks for the KEK, and `ward serve` for all
// of them.
func TestAdminCommandsNeedNoRuntimeSecrets(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ward.yaml")
	yaml := `issuer: https://as.example
behind_tls_proxy: {trusted_proxies: [127.0.0.1/32]}
data_dir: ` + dir + `
dpop: {nonce: {enabled: true}}
clients:
  - id: svc
    auth_method: client_secret_basic
    secret_env: WARD_TEST_ABSENT_SECRET
    grant_types: [client_credentials]
    scopes: [read]
    audiences: [https://api.example]
users:
  - subject: u-1
    username: alice
    password_env: WARD_TEST_ABSENT_PASSWORD
`
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"WARD_KEY_ENCRYPTION_KEY", "WARD_DPOP_NONCE_SECRET", "WARD_TEST_ABSENT_SECRET", "WARD_TEST_ABSENT_PASSWORD"} {
		t.Setenv(k, "")
	}
	for _, args := range [][]string{
		{"client", "list"}, {"client", "create", "--id", "new", "--grant-type", "client_credentials", "--scope", "read", "--audience", "https://api.example"},
		{"client", "show", "new"}, {"user", "list"}, {"user", "create", "--username", "bob"}, {"keys", "list"},
	} {
		out, code := ward(t, append(args, "--config", cfgFile)...)
		if code != 0 {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
	if out, code := ward(t, "keys", "rotate", "--config", cfgFile); code != 1 || !strings.Contains(out, "key-encryption key") {
		t.Errorf("keys rotate without a KEK: exit %d\n%s", code, out)
	}
	// ward serve needs them all: the environment variables first, then
	// (in a file without them) the KEK and the nonce secret.
	if _, _, err := parseServe([]string{"--config", cfgFile}, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "WARD_TEST_ABSENT_SECRET") || !strings.Contains(err.Error(), "WARD_TEST_ABSENT_PASSWORD") {
		t.Errorf("serve accepted the configuration without the client secret or user password: %v", err)
	}
	if err := os.WriteFile(cfgFile, []byte(yaml[:strings.Index(yaml, "clients:")]), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := parseServe([]string{"--config", cfgFile}, &strings.Builder{})
	for _, want := range []string{"keys.kek_file", "dpop.nonce.secret_file"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("serve accepted the configuration without %s: %v", want, err)
		}
	}
}
