package config

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/fapi"
	"github.com/wardauth/ward/keys"
)

// Validate checks the whole configuration and returns every problem found,
// joined, each naming its key path and, when loaded from a file, its line.
// It does not read files named by the configuration.
func (c *Config) Validate() error {
	v := &validator{c: c}
	if c.AuthorizationServer.Enabled || c.Issuer != "" {
		// A gateway-only process (authorization_server.enabled: false)
		// has no authorization-server listener: its issuer is optional,
		// and is checked only as a URL when given.
		v.issuer()
	}
	v.listener()
	if c.AuthorizationServer.Enabled {
		v.store()
		v.keys()
	} else if !c.Gateway.Enabled {
		v.add("authorization_server.enabled", ErrInvalidValue, "false needs gateway.enabled: true (nothing would run)")
	}
	v.hsts("authorization_server.hsts", c.AuthorizationServer.HSTS)
	v.tokens()
	v.dpop()
	v.positive("par.ttl", c.PAR.TTL, MaxPARTTL)
	v.positive("login.session_ttl", c.Login.SessionTTL, 0)
	if c.Limits.MaxConnections < 1 {
		v.add("limits.max_connections", ErrInvalidValue, "must be at least 1")
	}
	ids := map[string]bool{}
	for i := range c.Clients {
		v.client(i, ids)
	}
	subs, names := map[string]bool{}, map[string]bool{}
	for i := range c.Users {
		v.user(i, subs, names)
	}
	v.gateway()
	v.redis()
	v.rateLimits()
	v.events()
	v.console()  // console.go
	v.mtls()     // mtls.go
	v.ui()       // ui.go
	v.pairwise() // pairwise.go
	v.log()      // observability.go
	v.tracing()  // observability.go
	v.profile()  // fapi.go
	return errors.Join(v.errs...)
}

type validator struct {
	c    *Config
	errs []error
}

func (v *validator) add(path string, sentinel error, format string, args ...any) {
	v.errs = append(v.errs, v.c.errorf(path, sentinel, format, args...))
}

func (v *validator) positive(path string, d, max time.Duration) {
	switch {
	case d <= 0:
		v.add(path, ErrInvalidValue, "must be positive")
	case max > 0 && d > max:
		v.add(path, ErrInvalidValue, "%v exceeds the maximum of %v", d, max)
	}
}

func (v *validator) oneOf(path, val string, allowed ...string) {
	if !slices.Contains(allowed, val) {
		v.add(path, ErrInvalidValue, "%q is not one of %s", val, strings.Join(allowed, ", "))
	}
}

// names are a typed vocabulary's values as strings, for oneOf and messages.
func names[T ~string](vals []T) []string {
	s := make([]string, len(vals))
	for i, x := range vals {
		s[i] = string(x)
	}
	return s
}

func (v *validator) issuer() {
	c := v.c
	if c.Issuer == "" {
		v.add("issuer", ErrMissing, "required (the https URL clients use to reach this server)")
		return
	}
	u, err := url.Parse(c.Issuer)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		v.add("issuer", ErrInvalidValue, "%q is not an absolute URL", c.Issuer)
	case u.Scheme != "https" && !(c.Dev && u.Scheme == "http"):
		v.add("issuer", ErrInvalidValue, "%q must use https (http is allowed only in dev mode)", c.Issuer)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(c.Issuer, "#"):
		v.add("issuer", ErrInvalidValue, "%q must not have a query or fragment", c.Issuer)
	case u.User != nil:
		v.add("issuer", ErrInvalidValue, "%q must not contain user information", c.Issuer)
	case strings.HasSuffix(c.Issuer, "/"):
		v.add("issuer", ErrInvalidValue, "%q must not end with \"/\" (write %q)", c.Issuer, strings.TrimRight(c.Issuer, "/"))
	case c.AuthorizationServer.Enabled && !c.Dev && u.Scheme == "https" && !c.TLS.Enabled() && !c.BehindTLSProxy.Enabled():
		v.add("issuer", ErrInvalidValue, "is https but the listener is plain HTTP: configure tls or behind_tls_proxy.trusted_proxies")
	}
}

func (v *validator) listener() {
	c := v.c
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		v.add("listen", ErrInvalidValue, "%q is not a host:port address", c.Listen)
	}
	if c.AdminListen != "" {
		if _, port, err := net.SplitHostPort(c.AdminListen); err != nil || port == "" {
			v.add("admin_listen", ErrInvalidValue, "%q is not a host:port address", c.AdminListen)
		} else if c.AdminListen == c.Listen {
			v.add("admin_listen", ErrInvalidValue, "must differ from listen: metrics are never served on the public listener")
		}
	}
	if c.TLS.Enabled() {
		if c.TLS.CertFile == "" {
			v.add("tls.cert_file", ErrMissing, "required with tls.key_file")
		}
		if c.TLS.KeyFile == "" {
			v.add("tls.key_file", ErrMissing, "required with tls.cert_file")
		}
	}
	for i, p := range c.BehindTLSProxy.TrustedProxies {
		if !p.IsValid() || p != p.Masked() {
			v.add(fmt.Sprintf("behind_tls_proxy.trusted_proxies[%d]", i), ErrInvalidValue, "%q is not a network address (write %s)", p, p.Masked())
		}
	}
}

func (v *validator) store() {
	c := v.c
	v.oneOf("store.driver", c.Store.Driver, "sqlite", "postgres")
	if c.Store.Driver == "postgres" && c.Store.DSN == "" {
		v.add("store.dsn", ErrMissing, "required for postgres (or set %s)", EnvStoreDSN)
	}
	if c.Store.Driver == "sqlite" && c.DataDir == "" && c.Store.DSN == "" {
		v.add("data_dir", ErrMissing, "required for sqlite without store.dsn")
	}
	v.positive("store.timeout", c.Store.Timeout, MaxStoreTimeout)
	v.positive("store.startup_timeout", c.Store.StartupTimeout, MaxStoreStartupTimeout)
}

func (v *validator) keys() {
	c := v.c
	v.oneOf("keys.algorithm", c.Keys.Algorithm, "ES256", "EdDSA")
	v.positive("keys.publish_ahead", c.Keys.PublishAhead, 0)
	v.positive("keys.rotation_period", c.Keys.RotationPeriod, 0)
	if c.Keys.RotationPeriod > 0 && c.Keys.RotationPeriod <= c.Keys.PublishAhead {
		v.add("keys.rotation_period", ErrInvalidValue, "must exceed keys.publish_ahead (%v)", c.Keys.PublishAhead)
	}
	v.positive("keys.refresh_interval", c.Keys.RefreshInterval, 0)
	if c.Keys.RefreshInterval > 0 && c.Keys.PublishAhead > 0 && c.Keys.RefreshInterval >= c.Keys.PublishAhead {
		v.add("keys.refresh_interval", ErrInvalidValue, "must be below keys.publish_ahead (%v), so every instance publishes a new key before it signs", c.Keys.PublishAhead)
	}
	if c.Keys.KEK != "" {
		if _, err := keys.ParseKEK(c.Keys.KEK); err != nil {
			v.add("keys", ErrInvalidValue, "%s must be the base64 encoding of 32 bytes", EnvKeyEncryptionKey)
		}
	} else if c.Keys.KEKFile == "" && !c.Dev && !c.storeOnly {
		v.add("keys.kek_file", ErrMissing, "required unless %s is set", EnvKeyEncryptionKey)
	}
}

func (v *validator) tokens() {
	t := v.c.Tokens
	v.positive("tokens.access_token_ttl", t.AccessTokenTTL, MaxAccessTokenTTL)
	v.positive("tokens.family_lifetime", t.FamilyLifetime, 0)
	v.positive("tokens.refresh_token_ttl", t.RefreshTokenTTL, 0)
	if t.RefreshTokenTTL > t.FamilyLifetime && t.FamilyLifetime > 0 {
		v.add("tokens.refresh_token_ttl", ErrInvalidValue, "%v exceeds tokens.family_lifetime (%v)", t.RefreshTokenTTL, t.FamilyLifetime)
	}
	if g := t.RefreshTokenReuseGrace; g < 0 || g > MaxRefreshTokenReuseGrace {
		v.add("tokens.refresh_token_reuse_grace", ErrInvalidValue, "%v is not between 0 (off) and %v", g, MaxRefreshTokenReuseGrace)
	}
	v.positive("tokens.code_ttl", t.CodeTTL, MaxCodeTTL)
	// The signing keys stay published MaxAccessTokenTTL after they retire:
	// nothing they sign may live longer.
	v.positive("tokens.id_token_ttl", t.IDTokenTTL, MaxAccessTokenTTL)
}

// dpopAlgs are the asymmetric JWS algorithms a DPoP proof may use
// (RFC 9449 §4.2: never none or a MAC).
var dpopAlgs = []string{"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"}

func (v *validator) dpop() {
	d := v.c.DPoP
	if len(d.Algorithms) == 0 {
		v.add("dpop.algorithms", ErrMissing, "at least one algorithm is required")
	}
	for i, a := range d.Algorithms {
		p := fmt.Sprintf("dpop.algorithms[%d]", i)
		if a == "none" || strings.HasPrefix(a, "HS") {
			v.add(p, ErrInvalidValue, "%q is not allowed: DPoP proofs are signed with an asymmetric key (RFC 9449 §4.2)", a)
			continue
		}
		v.oneOf(p, a, dpopAlgs...)
	}
	v.positive("dpop.iat_max_age", d.IatMaxAge, 10*time.Minute)
	if d.IatLeeway < 0 || d.IatLeeway > time.Minute {
		v.add("dpop.iat_leeway", ErrInvalidValue, "must be between 0 and 1m")
	}
	if d.Nonce.Enabled {
		v.positive("dpop.nonce.ttl", d.Nonce.TTL, time.Hour)
		if d.Nonce.Secret == "" && d.Nonce.SecretFile == "" && !v.c.Dev && !v.c.storeOnly {
			v.add("dpop.nonce.secret_file", ErrMissing, "required when nonces are enabled, unless %s is set (all instances must share the secret)", EnvDPoPNonceSecret)
		}
	}
}

var (
	authMethods = names([]oauth.AuthMethod{oauth.AuthSecretBasic, oauth.AuthSecretPost, oauth.AuthPrivateKeyJWT, oauth.AuthNone, oauth.AuthTLSClient, oauth.AuthSelfSignedTLSClient})
	grantTypes  = names([]oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials})
	constraints = []string{store.ConstraintDPoP, store.ConstraintDPoPOrMTLS, store.ConstraintMTLS, store.ConstraintBearer}
)

// client checks clients[i] as a list of rule groups, in the order their
// errors are reported.
func (v *validator) client(i int, ids map[string]bool) {
	cl := &v.c.Clients[i]
	p := func(k string) string { return fmt.Sprintf("clients[%d].%s", i, k) }
	v.clientID(cl, p, ids)
	v.clientAuth(cl, p)
	v.clientJWKS(cl, p)
	grants := v.clientGrants(cl, p)
	v.clientRedirectURIs(cl, p, grants)
	v.clientRequestObjects(cl, p, grants)
	if cl.AllowRememberedConsent && cl.AuthMethod != oauth.AuthNone {
		v.add(p("allow_remembered_consent"), ErrInvalidValue, "applies only to public clients (auth_method none); a confidential client always keeps remembered consent")
	}
	v.clientLinks(cl, p) // ui.go
	v.scopeTokens(p("scopes"), cl.Scopes)
	for j, a := range cl.Audiences {
		if u, err := url.Parse(a); err != nil || !u.IsAbs() || u.Fragment != "" {
			v.add(fmt.Sprintf("%s[%d]", p("audiences"), j), ErrInvalidValue, "%q is not an absolute URI without fragment (RFC 8707 §2)", a)
		}
	}
	if cl.SenderConstraint != "" {
		v.oneOf(p("sender_constraint"), cl.SenderConstraint, constraints...)
	}
	if cl.AccessTokenTTL != 0 {
		v.positive(p("access_token_ttl"), cl.AccessTokenTTL, MaxAccessTokenTTL)
	}
	v.clientOIDC(cl, p)    // oidc.go
	v.clientProfile(cl, p) // fapi.go
}

// clientID checks that the id is present and unique.
func (v *validator) clientID(cl *Client, p func(string) string, ids map[string]bool) {
	switch {
	case cl.ID == "":
		v.add(p("id"), ErrMissing, "required")
	case ids[cl.ID]:
		v.add(p("id"), ErrInvalidValue, "duplicate client id %q", cl.ID)
	}
	ids[cl.ID] = true
}

// clientAuth checks auth_method and that the client holds the credential
// that method needs, and no other.
func (v *validator) clientAuth(cl *Client, p func(string) string) {
	hasSecret := cl.SecretHash != "" || cl.SecretEnv != ""
	hasKeys := cl.JWKS != "" || cl.JWKSFile != ""
	switch cl.AuthMethod {
	case "":
		v.add(p("auth_method"), ErrMissing, "required (one of %s)", strings.Join(authMethods, ", "))
	case oauth.AuthNone:
		if hasSecret || hasKeys {
			v.add(p("auth_method"), ErrInvalidValue, "a public client (none) has no secret and no jwks; use client_secret_basic or private_key_jwt for a confidential client")
		}
	case oauth.AuthSecretBasic, oauth.AuthSecretPost:
		v.secretClient(cl, p, hasSecret, hasKeys)
	case oauth.AuthPrivateKeyJWT:
		if cl.JWKS != "" && cl.JWKSFile != "" || !hasKeys {
			v.add(p("jwks"), ErrMissing, "private_key_jwt needs exactly one of jwks and jwks_file")
		}
		if hasSecret {
			v.add(p("secret_hash"), ErrInvalidValue, "private_key_jwt clients have no secret")
		}
	case oauth.AuthTLSClient, oauth.AuthSelfSignedTLSClient:
		v.tlsClient(cl, p, hasSecret, hasKeys) // mtls.go
	default:
		v.oneOf(p("auth_method"), string(cl.AuthMethod), authMethods...)
	}
}

// secretClient checks a client_secret_basic or client_secret_post client:
// one secret, given as its hex SHA-256 or an environment variable.
func (v *validator) secretClient(cl *Client, p func(string) string, hasSecret, hasKeys bool) {
	if cl.SecretHash != "" && cl.SecretEnv != "" || !hasSecret {
		v.add(p("secret_hash"), ErrMissing, "%s needs exactly one of secret_hash and secret_env", cl.AuthMethod)
	}
	if cl.SecretHash != "" {
		if b, err := hex.DecodeString(cl.SecretHash); err != nil || len(b) != 32 {
			v.add(p("secret_hash"), ErrInvalidValue, "must be the hex SHA-256 of the secret (64 hex digits)")
		}
	}
	if hasKeys {
		v.add(p("jwks"), ErrInvalidValue, "only for private_key_jwt")
	}
}

// clientJWKS checks an inline jwks: a key set of public keys only
// (tls_client_auth's jwks holds registration values instead, mtls.go).
func (v *validator) clientJWKS(cl *Client, p func(string) string) {
	if cl.JWKS == "" || cl.AuthMethod == oauth.AuthTLSClient {
		return
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(cl.JWKS), &set); err != nil || len(set.Keys) == 0 {
		v.add(p("jwks"), ErrInvalidValue, "not a JSON Web Key Set with at least one key")
		return
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			v.add(p("jwks"), ErrInvalidValue, "key %q is not a public key: never put private keys in the configuration", k.KeyID)
		}
	}
}

// clientRequestObjects checks that a client that must send signed
// request objects (its own require_signed_request_object, or
// request_objects.required for every client of the authorization_code
// grant) has the public keys to verify them with (RFC 9101 §6.1).
func (v *validator) clientRequestObjects(cl *Client, p func(string) string, grants []oauth.GrantType) {
	if cl.JWKS != "" || cl.JWKSFile != "" {
		return
	}
	switch {
	case cl.RequireSignedRequestObject:
		v.add(p("require_signed_request_object"), ErrInvalidValue, "needs the client's public keys (jwks or jwks_file) to verify its request objects")
	case v.c.RequestObjects.Required && slices.Contains(grants, oauth.GrantAuthorizationCode):
		v.add(p("jwks"), ErrMissing, "request_objects.required: a client of the authorization_code grant needs public keys (jwks or jwks_file) to sign request objects with")
	}
}

// clientGrants checks grant_types and returns them, defaulted.
func (v *validator) clientGrants(cl *Client, p func(string) string) []oauth.GrantType {
	grants := cl.GrantTypes
	if len(grants) == 0 {
		grants = []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
	}
	for j, g := range grants {
		gp := fmt.Sprintf("%s[%d]", p("grant_types"), j)
		switch g {
		case "password":
			v.add(gp, ErrInvalidValue, "the password grant was removed in OAuth 2.1; use authorization_code with PKCE")
		case "implicit", "token":
			v.add(gp, ErrInvalidValue, "the implicit grant was removed in OAuth 2.1; use authorization_code with PKCE")
		case oauth.GrantClientCredentials:
			if cl.AuthMethod == oauth.AuthNone {
				v.add(gp, ErrInvalidValue, "client_credentials needs a confidential client, not auth_method none")
			}
		default:
			v.oneOf(gp, string(g), grantTypes...)
		}
	}
	return grants
}

// clientRedirectURIs checks redirect_uris: required for the code grant,
// each acceptable (checkRedirectURI), and exact for a confidential client.
func (v *validator) clientRedirectURIs(cl *Client, p func(string) string, grants []oauth.GrantType) {
	if slices.Contains(grants, oauth.GrantAuthorizationCode) && len(cl.RedirectURIs) == 0 {
		v.add(p("redirect_uris"), ErrMissing, "required for the authorization_code grant")
	}
	for j, u := range cl.RedirectURIs {
		up := fmt.Sprintf("%s[%d]", p("redirect_uris"), j)
		if msg := checkRedirectURI(u); msg != "" {
			v.add(up, ErrInvalidValue, "%q %s", u, msg)
		} else if cl.AuthMethod != oauth.AuthNone && portlessLoopback(u) {
			// RFC 8252 §7.3's any-port rule is for public (native)
			// clients; a confidential client's URI matches exactly.
			v.add(up, ErrInvalidValue,
				"%q has no port: a confidential client's loopback redirect URI is compared exactly, port included (any port, RFC 8252 §7.3, is for public clients); write the port its listener uses", u)
		}
	}
}

// scopeTokens checks a list of scopes (RFC 6749 §3.3 scope-token: no
// space, quote or backslash); path is the list's key.
func (v *validator) scopeTokens(path string, scopes []string) {
	for j, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			v.add(fmt.Sprintf("%s[%d]", path, j), ErrInvalidValue, "%q is not a scope token (RFC 6749 §3.3)", s)
		}
	}
}

// portlessLoopback reports whether u is an http URI on a loopback IP
// literal without an explicit port.
func portlessLoopback(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" || p.Port() != "" {
		return false
	}
	a, err := netip.ParseAddr(p.Hostname())
	return err == nil && a.IsLoopback()
}

// hsts checks a Strict-Transport-Security value (RFC 6797 §6.1): "off",
// empty (the default), or directives with a max-age of digits.
func (v *validator) hsts(key, val string) {
	if val == "" || val == "off" {
		return
	}
	maxAge := false
	for _, d := range strings.Split(val, ";") {
		d = strings.TrimSpace(d)
		if n, ok := strings.CutPrefix(strings.ToLower(d), "max-age="); ok {
			_, err := strconv.ParseUint(n, 10, 32)
			maxAge = err == nil
		}
	}
	if !maxAge || strings.ContainsAny(val, "\r\n\x00") {
		v.add(key, ErrInvalidValue, "%q is not a Strict-Transport-Security value such as %q, or off", val, DefaultHSTS)
	}
}

// checkRedirectURI returns why u is not an acceptable redirect URI, or "".
// Accepted: https; http on a loopback IP literal (RFC 8252 §7.3); a
// private-use scheme in reverse-domain form (RFC 8252 §7.1).
func checkRedirectURI(u string) string {
	p, err := url.Parse(u)
	switch {
	case err != nil || !p.IsAbs():
		return "is not an absolute URI"
	case strings.Contains(u, "#"):
		return "must not have a fragment"
	case strings.Contains(u, "*"):
		return "must not contain wildcards: redirect URIs are compared exactly"
	case p.Scheme == "https":
		if p.Host == "" {
			return "has no host"
		}
	case p.Scheme == "http":
		host := p.Hostname()
		if host == "localhost" {
			return "uses localhost: use the loopback IP 127.0.0.1 or [::1] (RFC 8252 §8.3)"
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.IsLoopback() {
			return "uses http: only loopback addresses (127.0.0.1, [::1]) may use http"
		}
	case !strings.Contains(p.Scheme, "."):
		return "uses a private-use scheme that is not a reverse domain name such as com.example.app (RFC 8252 §7.1)"
	}
	return ""
}

func (v *validator) user(i int, subs, names map[string]bool) {
	u := &v.c.Users[i]
	p := func(k string) string { return fmt.Sprintf("users[%d].%s", i, k) }
	switch {
	case u.Subject == "":
		v.add(p("subject"), ErrMissing, "required")
	case subs[u.Subject]:
		v.add(p("subject"), ErrInvalidValue, "duplicate subject %q", u.Subject)
	}
	subs[u.Subject] = true
	switch {
	case u.Username == "":
		v.add(p("username"), ErrMissing, "required")
	case names[u.Username]:
		v.add(p("username"), ErrInvalidValue, "duplicate username %q", u.Username)
	}
	names[u.Username] = true
	switch {
	case (u.PasswordHash == "") == (u.PasswordEnv == ""):
		v.add(p("password_hash"), ErrMissing, "exactly one of password_hash and password_env is required")
	case u.PasswordHash != "" && !validArgon2id(u.PasswordHash):
		v.add(p("password_hash"), ErrInvalidValue, "not an argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash)")
	}
	v.userClaims(u, p) // oidc.go
}

// validArgon2id checks the shape of a PHC argon2id string.
func validArgon2id(s string) bool {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return false
	}
	var m, t, par uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &par); err != nil || n != 3 || m == 0 || t == 0 || par == 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	hash, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	return err1 == nil && err2 == nil && len(salt) >= 8 && len(hash) >= 16
}

// ValidateClient checks one client by the rules Validate applies to the
// file's clients, for clients made outside the file (`ward client create`).
// generatedSecret says Ward will generate the secret of a client_secret_*
// client, so none is required here.
func ValidateClient(cl Client, generatedSecret bool) error {
	return ValidateClientUnder(fapi.None, cl, generatedSecret)
}

// ValidateClientUnder is ValidateClient for a server whose
// authorization_server.profile is profile: a client it does not admit
// (fapi.go) is refused as the file's would be.
func ValidateClientUnder(profile fapi.Profile, cl Client, generatedSecret bool) error {
	secretMethod := cl.AuthMethod == oauth.AuthSecretBasic || cl.AuthMethod == oauth.AuthSecretPost
	if generatedSecret && secretMethod && cl.SecretHash == "" && cl.SecretEnv == "" {
		cl.SecretHash = strings.Repeat("0", 64) // stands for the secret to come
	}
	v := &validator{c: &Config{Clients: []Client{cl}, AuthorizationServer: AuthorizationServer{Profile: profile}}}
	v.client(0, map[string]bool{})
	return errors.Join(v.errs...)
}
