package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Console configures the admin console (docs/CONSOLE.md): pages for an
// operator served by the authorization server under PathPrefix, which log
// the operator in through Ward itself as a backend-for-frontend site
// (package bff) of the console's own client, and call an in-process admin
// API that requires the scope ward:admin and, on every call, the admin
// role in the user's record. Off by default.
type Console struct {
	// Enabled serves the console. Default false.
	Enabled bool `yaml:"enabled"`
	// PathPrefix on the issuer's origin. Default /console.
	PathPrefix string `yaml:"path_prefix"`
	// ClientID of the console's confidential client, which Ward declares
	// itself at start (DPoP-bound, scope ward:admin, redirect URI
	// issuer + path_prefix + /bff/callback). Default ward-console.
	ClientID string `yaml:"client_id"`
	// ClientSecretFile holds that client's secret (one line; make one
	// with `head -c 32 /dev/urandom | base64`). Required when enabled,
	// except in dev mode (data_dir/console-secret is made).
	ClientSecretFile string `yaml:"client_secret_file"`
	// AdminRole is the role (in the user's roles, `ward user set NAME
	// --claim roles=admin`) that opens the console. Default admin.
	AdminRole string `yaml:"admin_role"`
	// Lifetime and IdleTimeout of an operator's console session. Default
	// 8h and 15m.
	Lifetime    time.Duration `yaml:"lifetime"`
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// SessionStore: memory (default; one instance) or redis (the redis
	// section; every instance serves every operator's session).
	SessionStore string `yaml:"session_store"`
	// SessionKeyFile holds the 32-byte key (base64) sealing the sessions
	// in Redis; required with session_store: redis, the same on every
	// instance.
	SessionKeyFile string `yaml:"session_key_file"`
}

// Console defaults.
const (
	DefaultConsolePrefix   = "/console"
	DefaultConsoleClientID = "ward-console"
	DefaultConsoleRole     = "admin"
	DefaultConsoleIdle     = 15 * time.Minute
	// ConsoleScope is the scope of the console's access tokens: the
	// admin API refuses a token without it.
	ConsoleScope = "ward:admin"
)

// RoleName is what a role may look like: a lower-case word of at most 64
// characters (letters, digits, _ . : -).
var RoleName = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,63}$`)

// WithDefaults returns c with every empty setting at its default.
func (c Console) WithDefaults() Console {
	if c.PathPrefix == "" {
		c.PathPrefix = DefaultConsolePrefix
	}
	c.PathPrefix = strings.TrimSuffix(c.PathPrefix, "/")
	if c.ClientID == "" {
		c.ClientID = DefaultConsoleClientID
	}
	if c.AdminRole == "" {
		c.AdminRole = DefaultConsoleRole
	}
	if c.Lifetime == 0 {
		c.Lifetime = DefaultBFFLifetime
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultConsoleIdle
	}
	return c
}

// consolePrefix: one or more lower-case path segments.
var consolePrefix = regexp.MustCompile(`^(/[a-z0-9][a-z0-9_-]*)+/?$`)

// reservedPrefixes are the authorization server's own paths, which the
// console's prefix must not shadow.
var reservedPrefixes = []string{"/.well-known", "/authorize", "/par", "/token", "/revoke", "/introspect",
	"/jwks", "/login", "/consent", "/userinfo", "/end_session", "/static", "/revocations"}

// console checks the console section.
func (v *validator) console() {
	c := v.c.Console
	if !c.Enabled {
		return
	}
	if !v.c.AuthorizationServer.Enabled {
		v.add("console.enabled", ErrInvalidValue, "the console is served by the authorization server: it needs authorization_server.enabled")
	}
	if c.PathPrefix != "" {
		if !consolePrefix.MatchString(c.PathPrefix) {
			v.add("console.path_prefix", ErrInvalidValue, "%q is not a path such as /console (lower-case segments)", c.PathPrefix)
		}
		for _, r := range reservedPrefixes {
			if p := strings.TrimSuffix(c.PathPrefix, "/"); p == r || strings.HasPrefix(p, r+"/") {
				v.add("console.path_prefix", ErrInvalidValue, "%q is the authorization server's own path %s", c.PathPrefix, r)
			}
		}
	}
	id := c.WithDefaults().ClientID
	for i, cl := range v.c.Clients {
		if cl.ID == id {
			v.add(fmt.Sprintf("clients[%d].id", i), ErrInvalidValue, "%q is the console's client (console.client_id), which Ward declares itself", id)
		}
	}
	if c.AdminRole != "" && !RoleName.MatchString(c.AdminRole) {
		v.add("console.admin_role", ErrInvalidValue, "%q is not a role name (lower-case letters, digits, _ . : -)", c.AdminRole)
	}
	if c.ClientSecretFile == "" && !v.c.Dev && !v.c.storeOnly {
		v.add("console.client_secret_file", ErrMissing, "is required when the console is enabled (make one with: head -c 32 /dev/urandom | base64)")
	}
	if c.Lifetime < 0 || c.Lifetime > MaxBFFLifetime {
		v.add("console.lifetime", ErrInvalidValue, "must be between 0 (default 8h) and %v", MaxBFFLifetime)
	}
	switch c.SessionStore {
	case "", "memory":
	case "redis":
		if !v.c.Redis.Enabled() {
			v.add("console.session_store", ErrInvalidValue, "redis needs the top-level redis section")
		}
		if c.SessionKeyFile == "" && !v.c.storeOnly {
			v.add("console.session_key_file", ErrMissing, "is required with session_store: redis (make one with: head -c 32 /dev/urandom | base64)")
		}
	default:
		v.add("console.session_store", ErrInvalidValue, "%q is not memory or redis", c.SessionStore)
	}
	if c.IdleTimeout < 0 || c.Lifetime > 0 && c.IdleTimeout > c.Lifetime {
		v.add("console.idle_timeout", ErrInvalidValue, "must be positive and at most the lifetime")
	}
}
