package config

import (
	"github.com/wardauth/ward/fapi"
	"github.com/wardauth/ward/oauth"
	"net/netip"
	"path/filepath"
	"time"
)

// Config is the authorization server's configuration. Build it with
// Default, Dev or Load; after changing it in code, call Validate.
//
// To extend it, add a field with a yaml tag and a default in Default; the
// loader, the unknown-key check and the did-you-mean suggestions follow
// from the struct tags.
type Config struct {
	// AuthorizationServer turns the authorization server of this process
	// off (`authorization_server: {enabled: false}`), so that it runs only
	// the gateway, which then checks tokens of the issuer served by other
	// processes. Default on.
	AuthorizationServer AuthorizationServer `yaml:"authorization_server"`
	// Issuer is the authorization server's issuer identifier (RFC 8414):
	// an https URL without query or fragment, and without a trailing "/".
	// Required, except in dev mode.
	Issuer string `yaml:"issuer"`
	// Listen is the TCP address of the listener. Default 127.0.0.1:9000.
	Listen string `yaml:"listen"`
	// AdminListen serves /metrics, /healthz and /readyz of a process that
	// runs no gateway (the gateway's admin listener serves them
	// otherwise). Empty: off. Never expose it publicly.
	AdminListen string `yaml:"admin_listen"`
	// TLS makes the listener serve TLS 1.3.
	TLS TLS `yaml:"tls"`
	// BehindTLSProxy declares that the listener is plain HTTP behind a
	// TLS-terminating proxy.
	BehindTLSProxy Proxy `yaml:"behind_tls_proxy"`
	// DataDir holds the SQLite database and, in dev mode, generated
	// secrets. Default "data".
	DataDir string `yaml:"data_dir"`
	Store   Store  `yaml:"store"`
	Keys    Keys   `yaml:"keys"`
	Tokens  Tokens `yaml:"tokens"`
	DPoP    DPoP   `yaml:"dpop"`
	PAR     PAR    `yaml:"par"`
	// RequestObjects: JWT-secured authorization requests (RFC 9101).
	RequestObjects RequestObjects `yaml:"request_objects"`
	Login          Login          `yaml:"login"`
	// DeviceAuthorization: the device authorization grant (RFC 8628).
	DeviceAuthorization DeviceAuthorization `yaml:"device_authorization"`
	// Registration: dynamic client registration (RFC 7591, RFC 7592;
	// registration.go). Off by default.
	Registration Registration `yaml:"registration"`
	// Limits of the authorization server's listener.
	Limits  ServerLimits `yaml:"limits"`
	Clients []Client     `yaml:"clients"`
	Users   []User       `yaml:"users"`
	Gateway Gateway      `yaml:"gateway"`
	// RateLimits of the authorization server's endpoints (ratelimit.go).
	RateLimits RateLimits `yaml:"rate_limits"`
	// Redis is shared by several instances for DPoP replay checks
	// (redis.go). Off unless redis.addr or WARD_REDIS_URL is set.
	Redis Redis `yaml:"redis"`
	// MTLS: client certificates at the authorization server (mtls.go).
	MTLS MTLS `yaml:"mtls"`
	// UI: the brand on the login, consent and error pages (ui.go).
	UI UI `yaml:"ui"`
	// OIDC: OpenID Connect settings of the authorization server
	// (pairwise.go).
	OIDC OIDC `yaml:"oidc"`
	// Log and Tracing: observability (observability.go, docs/OBSERVABILITY.md).
	Log     Log     `yaml:"log"`
	Tracing Tracing `yaml:"tracing"`
	// Events: security events and their responses (events.go).
	Events Events `yaml:"events"`
	// Console: the admin console (console.go, docs/CONSOLE.md). Off by
	// default.
	Console Console `yaml:"console"`

	// Dev relaxes the rules for a developer's machine: http issuer,
	// generated secrets under DataDir. Set by Dev, never by the file.
	Dev bool `yaml:"-"`

	file  string         // the file it was loaded from
	lines map[string]int // key path → line in file
	// storeOnly: loaded by LoadStoreOnly, for a command that uses only
	// the store; the runtime secrets are not required.
	storeOnly bool
}

// AuthorizationServer switches the authorization server of a process.
type AuthorizationServer struct {
	// Enabled runs the authorization server. Default true; false needs
	// gateway.enabled, and then store and keys are not used.
	Enabled bool `yaml:"enabled"`
	// HSTS is the Strict-Transport-Security value of every response when
	// the issuer is https; "off" disables it. Default (also when empty)
	// DefaultHSTS: one year, without includeSubDomains, which would
	// reach hosts of the parent domain this server does not know about.
	HSTS string `yaml:"hsts"`
	// Profile switches on a FAPI 2.0 profile for every client:
	// fapi2-security or fapi2-message-signing (which implies it). Empty:
	// none. It locks what the profile requires and refuses a
	// configuration that contradicts it (fapi.go, docs/FAPI2.md).
	Profile fapi.Profile `yaml:"profile"`
}

// DefaultHSTS is authorization_server.hsts's default.
const DefaultHSTS = "max-age=31536000"

// ServerLimits bound what the authorization server's listener accepts.
type ServerLimits struct {
	// MaxConnections: open client connections at once; more wait in the
	// kernel's accept queue. Default 10000.
	MaxConnections Count `yaml:"max_connections"`
}

// TLS configures the TLS 1.3 listener.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether a certificate is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Proxy lists the TLS-terminating proxies in front of a plain-HTTP
// listener. Forwarded headers are trusted only from these addresses.
type Proxy struct {
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies"`
}

// Enabled reports whether a proxy is declared.
func (p Proxy) Enabled() bool { return len(p.TrustedProxies) > 0 }

// Store selects the database.
type Store struct {
	// Driver is sqlite (default) or postgres.
	Driver string `yaml:"driver"`
	// DSN is the data source name; default for sqlite:
	// <data_dir>/ward.db. Environment override: WARD_STORE_DSN.
	DSN string `yaml:"dsn"`
	// Timeout bounds every store call (waiting for a connection, the
	// statements, the commit); a call past it fails, and the request
	// that made it gets 503 temporarily_unavailable. It is also the
	// PostgreSQL connect_timeout when the DSN has none. Default 5s, at
	// most MaxStoreTimeout.
	Timeout time.Duration `yaml:"timeout"`
	// StartupTimeout bounds how long `ward serve` (and the admin
	// commands) wait at start for PostgreSQL to answer, retrying while
	// it cannot be reached, before exiting with an error. Default 30s,
	// at most MaxStoreStartupTimeout. PostgreSQL only.
	StartupTimeout time.Duration `yaml:"startup_timeout"`
	// ServerTimeouts sets PostgreSQL's statement_timeout and
	// idle_in_transaction_session_timeout to Timeout on every
	// connection (a DSN that sets either keeps its value), so the
	// server ends what Ward gave up on. Default true; false behind a
	// pooler that refuses these start-up parameters. PostgreSQL only.
	ServerTimeouts bool `yaml:"server_timeouts"`
}

// Keys configures the signing keys (package keys).
type Keys struct {
	// Algorithm of new keys: ES256 (default) or EdDSA.
	Algorithm string `yaml:"algorithm"`
	// RotationPeriod: how long each key signs. Default 30d.
	RotationPeriod time.Duration `yaml:"rotation_period"`
	// PublishAhead: how long a new key is in the JWKS before it signs.
	// Default 1h.
	PublishAhead time.Duration `yaml:"publish_ahead"`
	// RefreshInterval: how often the server reloads the keys from the
	// store and rotates when due, so that a key rotated by another
	// instance (or `ward keys rotate`) is published here too. Default 5m;
	// must be below PublishAhead.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// KEKFile holds the base64 key-encryption key. In dev mode the
	// default is <data_dir>/kek, created if absent.
	KEKFile string `yaml:"kek_file"`
	// KEK is the base64 key-encryption key from WARD_KEY_ENCRYPTION_KEY;
	// it wins over KEKFile.
	KEK string `yaml:"-"`
}

// Tokens configures token lifetimes.
type Tokens struct {
	// AccessTokenTTL: default 10m, at most 1h.
	AccessTokenTTL time.Duration `yaml:"access_token_ttl"`
	// RefreshTokenTTL: lifetime of each refresh token (renewed on
	// rotation). Default 24h, at most family_lifetime.
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`
	// FamilyLifetime: absolute lifetime of a grant, after which the user
	// logs in again. Default 30d.
	FamilyLifetime time.Duration `yaml:"family_lifetime"`
	// CodeTTL: authorization code lifetime. Default 60s, at most 60s.
	CodeTTL time.Duration `yaml:"code_ttl"`
	// RefreshTokenReuseGrace: how long after a rotation a sender-
	// constrained refresh token presented again with its family's DPoP
	// key or certificate, while its successor is unused, gets a fresh
	// pair (replacing the unused successor) instead of revoking the
	// family: the client lost the answer. 0 disables it. Default 30s,
	// at most 5m.
	RefreshTokenReuseGrace time.Duration `yaml:"refresh_token_reuse_grace"`
	// IDTokenTTL: OpenID Connect ID token lifetime. Default 5m, at most
	// 1h.
	IDTokenTTL time.Duration `yaml:"id_token_ttl"`
}

// MaxRefreshTokenReuseGrace bounds tokens.refresh_token_reuse_grace.
const MaxRefreshTokenReuseGrace = 5 * time.Minute

// DPoP configures RFC 9449 proof checking.
type DPoP struct {
	// Algorithms accepted in proofs. Default [ES256, EdDSA].
	Algorithms []string `yaml:"algorithms"`
	Nonce      Nonce    `yaml:"nonce"`
	// IatMaxAge: how old a proof's iat may be. Default 60s.
	IatMaxAge time.Duration `yaml:"iat_max_age"`
	// IatLeeway: how far in the future iat may be (clock skew).
	// Default 5s.
	IatLeeway time.Duration `yaml:"iat_leeway"`
}

// Nonce configures server-provided DPoP nonces (RFC 9449 §8).
type Nonce struct {
	Enabled bool `yaml:"enabled"`
	// SecretFile holds the base64 secret that seals nonces; every
	// instance must share it. In dev mode the default is
	// <data_dir>/dpop-nonce-secret.
	SecretFile string `yaml:"secret_file"`
	// TTL: how long a nonce is accepted. Default 5m.
	TTL time.Duration `yaml:"ttl"`
	// Secret is from WARD_DPOP_NONCE_SECRET; it wins over SecretFile.
	Secret string `yaml:"-"`
}

// PAR configures pushed authorization requests (RFC 9126).
type PAR struct {
	// Required makes PAR mandatory for every client.
	Required bool `yaml:"required"`
	// TTL of a request_uri. Default 60s, at most 10m.
	TTL time.Duration `yaml:"ttl"`
}

// RequestObjects configures JWT-secured authorization requests (RFC
// 9101): signed request objects sent by value (the request parameter) at
// the authorization and PAR endpoints.
type RequestObjects struct {
	// Required: every authorization request must be a signed request
	// object, for every client (metadata require_signed_request_object).
	// Each client that may use the authorization_code grant then needs
	// its public keys (jwks or jwks_file).
	Required bool `yaml:"required"`
}

// Login configures the login pages.
type Login struct {
	// SessionTTL: browser session lifetime. Default 8h.
	SessionTTL time.Duration `yaml:"session_ttl"`
}

// Client is a static client, declared in the file and upserted at start.
type Client struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// AuthMethod: client_secret_basic, client_secret_post,
	// private_key_jwt or none (public client). Required.
	AuthMethod oauth.AuthMethod `yaml:"auth_method"`
	// SecretHash: hex SHA-256 of the secret (client_secret_*).
	SecretHash string `yaml:"secret_hash"`
	// SecretEnv: name of an environment variable holding the secret.
	SecretEnv string `yaml:"secret_env"`
	// JWKS: the client's public keys (private_key_jwt), as JSON text or a
	// YAML mapping.
	JWKS     string `yaml:"jwks,json"`
	JWKSFile string `yaml:"jwks_file"`
	// RedirectURIs: exact redirect URIs; https, loopback http, or a
	// private-use scheme (RFC 8252 §7). A loopback http URI of a public
	// client accepts any port (RFC 8252 §7.3); a confidential client's
	// is compared exactly, port included.
	RedirectURIs []string `yaml:"redirect_uris"`
	// GrantTypes: subset of authorization_code, refresh_token,
	// client_credentials and
	// urn:ietf:params:oauth:grant-type:token-exchange (which needs
	// token_exchange). Default [authorization_code, refresh_token].
	GrantTypes []oauth.GrantType `yaml:"grant_types"`
	Scopes     []string          `yaml:"scopes"`
	// Audiences (RFC 8707 resources); the first is the default.
	Audiences []string `yaml:"audiences"`
	// SenderConstraint: dpop (default), dpop_or_mtls, mtls or bearer.
	SenderConstraint string `yaml:"sender_constraint"`
	RequirePAR       bool   `yaml:"require_par"`
	// RequireSignedRequestObject: the client's authorization requests
	// must be signed request objects (RFC 9101 §10.5), verified with its
	// jwks. Needs jwks or jwks_file.
	RequireSignedRequestObject bool `yaml:"require_signed_request_object"`
	// Profile puts this client under a FAPI 2.0 profile (fapi2-security,
	// fapi2-message-signing) when the server has none or a weaker one; a
	// client cannot loosen authorization_server.profile (fapi.go).
	Profile fapi.Profile `yaml:"profile"`
	// AllowRememberedConsent: a public client with a loopback or
	// private-use-scheme redirect URI gets codes from remembered consent
	// without the user's interaction (RFC 8252 §8.6). Default false: the
	// consent page is shown on every authorization of such a client.
	AllowRememberedConsent bool `yaml:"allow_remembered_consent"`
	// LogoURI: an https image shown on the login and consent pages
	// (RFC 7591 §2 logo_uri).
	LogoURI string `yaml:"logo_uri"`
	// ClientURI: the https home page of the client, linked from its name
	// on the pages (RFC 7591 §2 client_uri).
	ClientURI string `yaml:"client_uri"`
	// AccessTokenTTL overrides tokens.access_token_ttl; at most 1h.
	AccessTokenTTL time.Duration `yaml:"access_token_ttl"`

	// OpenID Connect (docs/OIDC.md); the names are the registration
	// metadata of OpenID Connect Dynamic Client Registration 1.0 §2.

	// IDTokenSignedResponseAlg: ES256 (default) or RS256.
	IDTokenSignedResponseAlg string `yaml:"id_token_signed_response_alg"`
	// UserinfoSignedResponseAlg: empty for JSON UserInfo responses, or
	// ES256 / RS256 for signed ones.
	UserinfoSignedResponseAlg string `yaml:"userinfo_signed_response_alg"`
	// AuthorizationSignedResponseAlg: the JWS algorithm of the client's
	// JWT-secured authorization responses (JARM §3), ES256 or RS256;
	// empty: the server's primary algorithm.
	AuthorizationSignedResponseAlg string `yaml:"authorization_signed_response_alg"`
	// IntrospectionSignedResponseAlg: the JWS algorithm of the JWT
	// introspection responses (RFC 9701 §6) this client asks for.
	IntrospectionSignedResponseAlg string `yaml:"introspection_signed_response_alg"`
	// The encryption metadata of JARM §3 and RFC 9701 §6 are declared
	// only to be refused with a clear message: Ward signs these
	// responses and never encrypts them.
	AuthorizationEncryptedResponseAlg string `yaml:"authorization_encrypted_response_alg"`
	AuthorizationEncryptedResponseEnc string `yaml:"authorization_encrypted_response_enc"`
	IntrospectionEncryptedResponseAlg string `yaml:"introspection_encrypted_response_alg"`
	IntrospectionEncryptedResponseEnc string `yaml:"introspection_encrypted_response_enc"`
	// SubjectType: public (default) or pairwise (OIDC Core §8).
	SubjectType string `yaml:"subject_type"`
	// SectorIdentifierURI: https URL of the client's sector identifier
	// document (OIDC Core §8.1), for pairwise subjects.
	SectorIdentifierURI string `yaml:"sector_identifier_uri"`
	// PostLogoutRedirectURIs: exact URIs, by the rules of redirect_uris
	// (RP-Initiated Logout 1.0 §3).
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	// BackchannelLogoutURI: https (or loopback http) URL that receives
	// logout tokens (Back-Channel Logout 1.0 §2.2).
	BackchannelLogoutURI string `yaml:"backchannel_logout_uri"`
	// BackchannelLogoutSessionRequired: logout tokens carry sid.
	BackchannelLogoutSessionRequired bool `yaml:"backchannel_logout_session_required"`
	// LogoutRevokesGrants: logging out of a session revokes the grants
	// this client obtained in it.
	LogoutRevokesGrants bool `yaml:"logout_revokes_grants"`
	// DefaultMaxAge: max_age applied when a request has none; 0: none.
	DefaultMaxAge time.Duration `yaml:"default_max_age"`

	// TokenExchange is the client's token exchange policy (RFC 8693,
	// docs/DELEGATION.md); nil: the client may not exchange tokens.
	TokenExchange *TokenExchange `yaml:"token_exchange"`

	// Secret is the value of the SecretEnv variable, read by ApplyEnv.
	Secret string `yaml:"-"`
}

// TokenExchange is what one client may do with the token exchange grant
// (RFC 8693). The client must list
// urn:ietf:params:oauth:grant-type:token-exchange in grant_types and
// authenticate with private_key_jwt, tls_client_auth or
// self_signed_tls_client_auth.
type TokenExchange struct {
	// SubjectAudiences: the audiences (RFC 8707 resources) this client
	// serves. A subject token is exchanged only when its aud holds one
	// of them: a token not aimed at the client cannot be exchanged by
	// it. Required.
	SubjectAudiences []string `yaml:"subject_audiences"`
	// Audiences: the audience and resource values the client may ask
	// exchanged tokens for. Required.
	Audiences []string `yaml:"audiences"`
	// Scopes: the most an exchanged token may carry; it also never
	// carries a scope its subject token lacks. Empty: no scope.
	Scopes []string `yaml:"scopes"`
	// MaxChainDepth: how many actors the act claim of an exchanged token
	// may name, this client included (RFC 8693 §4.1). Default 2, at most
	// MaxTokenExchangeChainDepth.
	MaxChainDepth Count `yaml:"max_chain_depth"`
}

// Token exchange limits.
const (
	DefaultTokenExchangeChainDepth = 2
	MaxTokenExchangeChainDepth     = 8
)

// ChainDepth is MaxChainDepth, defaulted.
func (t *TokenExchange) ChainDepth() int {
	if t.MaxChainDepth == 0 {
		return DefaultTokenExchangeChainDepth
	}
	return int(t.MaxChainDepth)
}

// User is a static user.
type User struct {
	Subject  string `yaml:"subject"`
	Username string `yaml:"username"`
	// PasswordHash: argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
	PasswordHash string `yaml:"password_hash"`
	// PasswordEnv: name of an environment variable holding the password,
	// to be hashed at start.
	PasswordEnv string `yaml:"password_env"`
	// Claims: the user's OpenID Connect standard claims (OIDC Core §5.1)
	// as a mapping such as {name: Alice, email: alice@example.com,
	// email_verified: true}; held as JSON text, checked against
	// store.UserClaims. updated_at is not declared: it is the record's.
	Claims string `yaml:"claims,json"`
	// Password is the value of the PasswordEnv variable, read by ApplyEnv.
	Password string `yaml:"-"`
}

// Limits enforced by Validate.
const (
	MaxAccessTokenTTL = time.Hour
	MaxCodeTTL        = 60 * time.Second
	MaxPARTTL         = 10 * time.Minute
	// MaxStoreTimeout caps store.timeout: a request should not wait on
	// the database longer.
	MaxStoreTimeout = time.Minute
	// MaxStoreStartupTimeout caps store.startup_timeout.
	MaxStoreStartupTimeout = time.Hour
)

// Default returns the production defaults. Issuer is left empty: it is
// required.
func Default() *Config {
	return &Config{
		Listen:  "127.0.0.1:9000",
		DataDir: "data",
		Store:   Store{Driver: "sqlite", Timeout: 5 * time.Second, StartupTimeout: 30 * time.Second, ServerTimeouts: true},
		Keys:    Keys{Algorithm: "ES256", RotationPeriod: 30 * 24 * time.Hour, PublishAhead: time.Hour, RefreshInterval: 5 * time.Minute},
		Tokens: Tokens{
			AccessTokenTTL:  10 * time.Minute,
			RefreshTokenTTL: 24 * time.Hour,
			FamilyLifetime:  30 * 24 * time.Hour,
			CodeTTL:         60 * time.Second,
			// Covers a client's retry after a lost answer (an HTTP
			// client timeout of 10-30 s, a restart behind a load
			// balancer) while keeping a rotated token's second life
			// short.
			RefreshTokenReuseGrace: 30 * time.Second,
			// An ID token is read once, at login: minutes are plenty.
			IDTokenTTL: 5 * time.Minute,
		},
		DPoP: DPoP{
			Algorithms: []string{"ES256", "EdDSA"},
			Nonce:      Nonce{TTL: 5 * time.Minute},
			IatMaxAge:  60 * time.Second,
			IatLeeway:  5 * time.Second,
		},
		PAR:                 PAR{TTL: 60 * time.Second},
		Login:               Login{SessionTTL: 8 * time.Hour},
		Registration:        DefaultRegistration(),
		Limits:              ServerLimits{MaxConnections: 10000},
		AuthorizationServer: AuthorizationServer{Enabled: true, HSTS: DefaultHSTS},
		Gateway:             DefaultGateway(),
		Redis:               DefaultRedis(),
		Tracing:             DefaultTracing(),
		// Failed-login throttling on; request rates and failed client
		// authentication limited by default (ratelimit.go, Effective).
		RateLimits: DefaultRateLimits(),
		Events:     DefaultEvents(),
	}
}

// Dev returns the dev-mode defaults: issuer http://127.0.0.1:9000 on
// 127.0.0.1:9000, data under dataDir, key-encryption key and nonce secret
// in files there (created by the server if absent).
func Dev(dataDir string) *Config {
	c := Default()
	c.Dev = true
	c.Issuer = "http://127.0.0.1:9000"
	c.DataDir = dataDir
	c.Keys.KEKFile = filepath.Join(dataDir, "kek")
	c.DPoP.Nonce.SecretFile = filepath.Join(dataDir, "dpop-nonce-secret")
	c.OIDC.PairwiseSaltFile = filepath.Join(dataDir, "pairwise-salt")
	// The dev server listens on loopback only, for one developer: no
	// per-IP request rates (bench/tokenload drives it at full speed).
	// Failed client authentications are still limited.
	// The admin console, for the dev admin user (ward serve --dev prints
	// its password).
	c.Console.Enabled = true
	off := Rate{Off: true}
	c.RateLimits.Token.IP, c.RateLimits.PAR.IP, c.RateLimits.Login.IP = off, off, off
	return c
}

// StoreDSN returns the DSN in effect: Store.DSN, or for sqlite the
// default file under DataDir.
func (c *Config) StoreDSN() string {
	if c.Store.DSN == "" && c.Store.Driver == "sqlite" {
		return filepath.Join(c.DataDir, "ward.db")
	}
	return c.Store.DSN
}

// File returns the file the configuration was loaded from, if any.
func (c *Config) File() string { return c.file }
