package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/wardauth/ward/policy"
)

// BFF configures one backend-for-frontend site of the gateway
// (RFC 10017, draft-ietf-oauth-browser-based-apps; package bff): the gateway
// logs the browser's user in with the authorization code flow (PKCE, PAR,
// DPoP), keeps the tokens and the DPoP key server side, gives the browser
// only an HttpOnly session cookie, and forwards the app's API calls with
// the access token and a fresh proof. A site's settings change only with
// a restart (its sessions live as long as the process or the Redis).
type BFF struct {
	// Name labels metrics, logs, cookies and Redis keys; unique, required.
	Name string `yaml:"name"`
	// PublicURL is the origin the browser app is served from, such as
	// https://app.example.com: the only Origin accepted on the BFF's
	// endpoints, and the base of the redirect URI. https is required
	// except in dev mode.
	PublicURL string `yaml:"public_url"`
	// PathPrefix of the BFF endpoints (login, callback, logout, user,
	// api). Default /bff.
	PathPrefix string `yaml:"path_prefix"`
	// ClientID of the BFF at the authorization server: a confidential
	// client with client_secret_basic, authorization_code and
	// refresh_token, DPoP-bound, whose redirect URI is exactly
	// public_url + path_prefix + /callback.
	ClientID string `yaml:"client_id"`
	// ClientSecretFile holds the client's secret (one line). Required.
	ClientSecretFile string `yaml:"client_secret_file"`
	// Scopes requested at login.
	Scopes []string `yaml:"scopes"`
	// Resource is the API's resource indicator (RFC 8707), the audience
	// of the access tokens. Optional.
	Resource string `yaml:"resource"`
	// API is the base URL the app's calls to path_prefix/api/... are sent
	// to, for example https://api.example.com/v1 (often a route of this
	// same gateway).
	API string `yaml:"api"`
	// AfterLogin and AfterLogout are the paths on public_url the browser
	// is sent to. Default "/". A login's return_to overrides AfterLogin
	// when it is a path on the same site.
	AfterLogin  string `yaml:"after_login"`
	AfterLogout string `yaml:"after_logout"`
	// CSRFHeader must be sent with the value 1 on every call except login
	// and callback. Default X-Ward-CSRF.
	CSRFHeader string     `yaml:"csrf_header"`
	Session    BFFSession `yaml:"session"`
}

// BFFSession configures a site's sessions.
type BFFSession struct {
	// Lifetime: a session ends this long after login, whatever its use.
	// Default 8h, at most 30 days.
	Lifetime time.Duration `yaml:"lifetime"`
	// IdleTimeout: a session not used for this long ends. Default 30m.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// SameSite of the session cookie: strict (default) or lax. The login
	// cookie is always lax, so that the redirect back from the
	// authorization server carries it.
	SameSite string `yaml:"same_site"`
	// Store: memory (default; one instance) or redis (the top-level redis
	// section; several instances share the sessions).
	Store string `yaml:"store"`
	// KeyFile holds the 32-byte key (base64) that seals sessions at rest.
	// Required with store: redis (every instance needs the same key);
	// with memory, a key is made at start.
	KeyFile string `yaml:"key_file"`
	// GrantCheckInterval: how often a session's refresh-token family is
	// checked at the authorization server's introspection endpoint, so
	// that a grant revoked elsewhere ends the session. Default 30s.
	GrantCheckInterval time.Duration `yaml:"grant_check_interval"`
	// MaxSessions bounds the memory store. Default 100000.
	MaxSessions Count `yaml:"max_sessions"`
}

// BFF defaults.
const (
	DefaultBFFPrefix     = "/bff"
	DefaultBFFCSRFHeader = "X-Ward-CSRF"
	DefaultBFFLifetime   = 8 * time.Hour
	DefaultBFFIdle       = 30 * time.Minute
	DefaultBFFGrantCheck = 30 * time.Second
	MaxBFFLifetime       = 30 * 24 * time.Hour
)

// WithDefaults returns b with every empty setting at its default.
func (b BFF) WithDefaults() BFF {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&b.PathPrefix, DefaultBFFPrefix)
	b.PathPrefix = strings.TrimSuffix(b.PathPrefix, "/")
	def(&b.AfterLogin, "/")
	def(&b.AfterLogout, "/")
	def(&b.CSRFHeader, DefaultBFFCSRFHeader)
	def(&b.Session.SameSite, "strict")
	def(&b.Session.Store, "memory")
	if b.Session.Lifetime == 0 {
		b.Session.Lifetime = DefaultBFFLifetime
	}
	if b.Session.IdleTimeout == 0 {
		b.Session.IdleTimeout = DefaultBFFIdle
	}
	if b.Session.GrantCheckInterval == 0 {
		b.Session.GrantCheckInterval = DefaultBFFGrantCheck
	}
	if b.Session.MaxSessions == 0 {
		b.Session.MaxSessions = 100_000
	}
	return b
}

// RedirectURI is the site's callback, to register at the authorization
// server exactly.
func (b BFF) RedirectURI() string {
	b = b.WithDefaults()
	return strings.TrimSuffix(b.PublicURL, "/") + b.PathPrefix + "/callback"
}

// Host is the lower-case host of PublicURL, without port.
func (b BFF) Host() string {
	u, err := url.Parse(b.PublicURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

func (v *validator) bffSites() {
	g := &v.c.Gateway
	names := map[string]bool{}
	for _, r := range g.Routes {
		names[r.Name] = true
	}
	for i := range g.BFF {
		v.bff(i, names)
	}
}

// bff checks gateway.bff[i] as a list of rule groups, in the order their
// errors are reported.
func (v *validator) bff(i int, names map[string]bool) {
	b := v.c.Gateway.BFF[i].WithDefaults()
	p := func(k string) string { return fmt.Sprintf("gateway.bff[%d].%s", i, k) }
	v.bffName(&b, p, names)
	v.bffPublicURL(&b, p)
	if clean, err := policy.CleanPath(b.PathPrefix); err != nil || clean != b.PathPrefix || b.PathPrefix == "" {
		v.add(p("path_prefix"), ErrInvalidValue, "%q must be a clean path such as /bff", b.PathPrefix)
	}
	v.bffClient(&b, p)
	v.bffAPI(&b, p)
	for _, k := range []struct{ key, val string }{{"after_login", b.AfterLogin}, {"after_logout", b.AfterLogout}} {
		if !LocalPath(k.val) {
			v.add(p(k.key), ErrInvalidValue, "%q must be a path on the site, such as /app/", k.val)
		}
	}
	if h := b.CSRFHeader; strings.ContainsAny(h, headerSeparators) || !strings.HasPrefix(strings.ToLower(h), "x-") {
		v.add(p("csrf_header"), ErrInvalidValue, "%q must be a custom header name starting with X-", h)
	}
	v.bffSession(&b, p)
}

// bffName checks the name: present, unique among sites and routes once
// prefixed with bff-, and usable in cookie names and Redis keys.
func (v *validator) bffName(b *BFF, p func(string) string, names map[string]bool) {
	switch {
	case b.Name == "":
		v.add(p("name"), ErrMissing, "required (it names the site's cookies, metrics and Redis keys)")
	case names["bff-"+b.Name]:
		v.add(p("name"), ErrInvalidValue, "%q is taken: the site's metrics and logs are labelled bff-%s, which is already a route's or another site's name", b.Name, b.Name)
	case !validSiteName(b.Name):
		v.add(p("name"), ErrInvalidValue, "%q must be letters, digits, - and _ only", b.Name)
	}
	names["bff-"+b.Name] = true
}

// bffPublicURL checks public_url: an origin, https (its cookies are
// __Host- prefixed) except a loopback one in dev mode.
func (v *validator) bffPublicURL(b *BFF, p func(string) string) {
	u, err := url.Parse(b.PublicURL)
	switch {
	case b.PublicURL == "":
		v.add(p("public_url"), ErrMissing, "required (the origin the browser app is served from, such as https://app.example.com)")
	case err != nil || !u.IsAbs() || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		v.add(p("public_url"), ErrInvalidValue, "%q must be a scheme and host such as https://app.example.com", b.PublicURL)
	// http only in dev mode, and only where a redirect URI may be http: a
	// loopback IP literal (checkRedirectURI, RFC 8252 §7.3).
	case u.Scheme != "https" && !(v.c.Dev && u.Scheme == "http" && checkRedirectURI(b.RedirectURI()) == ""):
		v.add(p("public_url"), ErrInvalidValue, "%q must use https: the session cookie is Secure and __Host- prefixed (http is allowed only for a loopback IP such as 127.0.0.1, in dev mode)", b.PublicURL)
	}
}

// bffClient checks the OAuth client the site logs in as and what it asks
// for: scopes and the RFC 8707 resource.
func (v *validator) bffClient(b *BFF, p func(string) string) {
	if b.ClientID == "" {
		v.add(p("client_id"), ErrMissing, "required (a confidential client registered with the redirect URI %s)", b.RedirectURI())
	}
	if b.ClientSecretFile == "" {
		v.add(p("client_secret_file"), ErrMissing, "required (a file holding the client's secret)")
	}
	v.scopeTokens(p("scopes"), b.Scopes)
	if b.Resource != "" {
		if ru, err := url.Parse(b.Resource); err != nil || !ru.IsAbs() || ru.Fragment != "" {
			v.add(p("resource"), ErrInvalidValue, "%q must be an absolute URI without fragment (RFC 8707 §2)", b.Resource)
		}
	}
}

// bffAPI checks the api the app's calls are forwarded to.
func (v *validator) bffAPI(b *BFF, p func(string) string) {
	au, err := url.Parse(b.API)
	switch {
	case b.API == "":
		v.add(p("api"), ErrMissing, "required (the base URL the app's API calls are forwarded to)")
	case err != nil || (au.Scheme != "http" && au.Scheme != "https") || au.Host == "" || au.RawQuery != "" || au.Fragment != "" || au.User != nil:
		v.add(p("api"), ErrInvalidValue, "%q must be an http or https URL without query, fragment or credentials", b.API)
	}
}

// bffSession checks the session's lifetimes, cookie and store.
func (v *validator) bffSession(b *BFF, p func(string) string) {
	s := b.Session
	v.positive(p("session.lifetime"), s.Lifetime, MaxBFFLifetime)
	v.positive(p("session.idle_timeout"), s.IdleTimeout, s.Lifetime)
	v.positive(p("session.grant_check_interval"), s.GrantCheckInterval, time.Hour)
	v.oneOf(p("session.same_site"), s.SameSite, "strict", "lax")
	v.oneOf(p("session.store"), s.Store, "memory", "redis")
	if s.Store == "redis" {
		if !v.c.Redis.Enabled() {
			v.add(p("session.store"), ErrInvalidValue, "redis needs the top-level redis section")
		}
		if s.KeyFile == "" {
			v.add(p("session.key_file"), ErrMissing, "required with store: redis (every instance must seal sessions with the same key)")
		}
	}
	if s.MaxSessions < 1 {
		v.add(p("session.max_sessions"), ErrInvalidValue, "must be at least 1")
	}
}

// LocalPath reports whether p is a path on the same site that is safe to
// redirect to: it starts with one "/", is not scheme-relative ("//x",
// "/\x"), and has no control characters or backslashes, so a browser
// cannot read it as another origin.
func LocalPath(p string) bool {
	if p == "" || p[0] != '/' || len(p) > 2048 {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x21 || c == 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}

func validSiteName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}
