package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadStoreOnly: the runtime secrets may be absent for a store-only
// load, every other rule still holds, and Load still demands them.
func TestLoadStoreOnly(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ward.yaml")
	yaml := "issuer: https://as.example\nbehind_tls_proxy: {trusted_proxies: [127.0.0.1/32]}\ndpop: {nonce: {enabled: true}}\n" +
		"users:\n  - {subject: u, username: a, password_env: WARD_TEST_UNSET_PW}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvKeyEncryptionKey, "")
	t.Setenv(EnvDPoPNonceSecret, "")
	t.Setenv("WARD_TEST_UNSET_PW", "")
	if _, err := LoadStoreOnly(file); err != nil {
		t.Fatalf("store-only load: %v", err)
	}
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "WARD_TEST_UNSET_PW") {
		t.Fatalf("Load without the password variable: %v", err)
	}
	// A given secret is still checked; other rules still hold.
	t.Setenv(EnvKeyEncryptionKey, "short")
	if _, err := LoadStoreOnly(file); err == nil || !strings.Contains(err.Error(), EnvKeyEncryptionKey) {
		t.Fatalf("a malformed KEK was accepted: %v", err)
	}
	t.Setenv(EnvKeyEncryptionKey, "")
	if err := os.WriteFile(file, []byte(strings.Replace(yaml, "https://as.example", "http://as.example", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadStoreOnly(file); err == nil || !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("an http issuer was accepted: %v", err)
	}
}

// TestSetDevAddrs: dev mode moves to other loopback ports, the issuer and
// the gateway's URL following; anything else is refused.
func TestSetDevAddrs(t *testing.T) {
	c := Dev(t.TempDir())
	if err := c.SetDevAddrs("127.0.0.1:19000", "", "[::1]:19002"); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:19000" || c.Issuer != "http://127.0.0.1:19000" || c.Gateway.Listen != DevGatewayListen ||
		c.Gateway.PublicURL != "http://"+DevGatewayListen || c.Gateway.AdminListen != "[::1]:19002" {
		t.Fatalf("%+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"0.0.0.0:9000", "example.com:9000", "127.0.0.1:0", "127.0.0.1"} {
		if err := Dev(t.TempDir()).SetDevAddrs(bad, "", ""); err == nil || !strings.Contains(err.Error(), "--listen") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if err := Default().SetDevAddrs("127.0.0.1:19000", "", ""); !errors.Is(err, ErrNotDev) {
		t.Errorf("outside dev mode: %v", err)
	}
}
