package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/wardauth/ward/store"
)

// The console section: off by default; when on, its keys are checked and
// the error names the key.
func TestConsoleValidation(t *testing.T) {
	base := func() *Config {
		c := Default()
		c.Issuer = "https://as.example.com"
		c.Keys.KEKFile = "/etc/ward/kek"
		c.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		c.Console = Console{Enabled: true, ClientSecretFile: "/etc/ward/console.secret"}
		return c
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("valid console: %v", err)
	}
	for name, tc := range map[string]struct {
		edit func(*Console)
		key  string
	}{
		"no secret":       {func(c *Console) { c.ClientSecretFile = "" }, "console.client_secret_file"},
		"prefix":          {func(c *Console) { c.PathPrefix = "console" }, "console.path_prefix"},
		"upper prefix":    {func(c *Console) { c.PathPrefix = "/Console" }, "console.path_prefix"},
		"reserved prefix": {func(c *Console) { c.PathPrefix = "/token" }, "console.path_prefix"},
		"under reserved":  {func(c *Console) { c.PathPrefix = "/.well-known/admin" }, "console.path_prefix"},
		"role":            {func(c *Console) { c.AdminRole = "Admin Role" }, "console.admin_role"},
		"idle":            {func(c *Console) { c.Lifetime, c.IdleTimeout = 1e9, 2e9 }, "console.idle_timeout"},
		"store":           {func(c *Console) { c.SessionStore = "disk" }, "console.session_store"},
		"redis, no redis": {func(c *Console) { c.SessionStore, c.SessionKeyFile = "redis", "/k" }, "console.session_store"},
		"redis, no key":   {func(c *Console) { c.SessionStore = "redis" }, "console.session_key_file"},
	} {
		c := base()
		tc.edit(&c.Console)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %v, want an error naming %s", name, err, tc.key)
		}
	}
	clash := base()
	clash.Clients = []Client{{ID: "ward-console", AuthMethod: "none", RedirectURIs: []string{"https://a.example/cb"}}}
	if err := clash.Validate(); err == nil || !strings.Contains(err.Error(), "clients[0].id") {
		t.Errorf("a file client with the console's id: %v", err)
	}
	off := base()
	off.Console = Console{PathPrefix: "/token"}
	if err := off.Validate(); err != nil {
		t.Errorf("a disabled console is not checked: %v", err)
	}
}

// roles: set as a comma-separated list, each a role name, at most 16,
// no repeat; unset removes them all.
func TestRolesClaim(t *testing.T) {
	var c store.UserClaims
	if err := SetUserClaim(&c, "roles", "admin, auditor"); err != nil || len(c.Roles) != 2 || !c.HasRole("auditor") {
		t.Fatalf("set: %v %v", err, c.Roles)
	}
	for _, bad := range []string{"Admin", "a b", "admin,admin", "x/y", strings.Repeat("r,", 17) + "s", strings.Repeat("a", 65)} {
		var c store.UserClaims
		if err := SetUserClaim(&c, "roles", bad); !errors.Is(err, ErrClaim) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := UnsetUserClaim(&c, "roles"); err != nil || c.Roles != nil {
		t.Errorf("unset: %v %v", err, c.Roles)
	}
	got, err := ParseUserClaims(`{"name": "Alice", "roles": ["admin"]}`)
	if err != nil || !got.HasRole("admin") {
		t.Errorf("parse: %v %+v", err, got)
	}
	if _, err := ParseUserClaims(`{"roles": "admin"}`); err == nil || !strings.Contains(err.Error(), "list of role names") {
		t.Errorf("a string for roles: %v", err)
	}
}
