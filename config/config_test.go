package config_test

import (
	"errors"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
)

// base is a minimal valid file; tests append to it.
const base = `issuer: https://as.example
tls: {cert_file: c.pem, key_file: k.pem}
keys: {kek_file: /k}
`

func noEnv(string) (string, bool) { return "", false }

func load(name, yaml string, lookup func(string) (string, bool)) (*config.Config, error) {
	c := config.Default()
	if err := c.Decode(name, []byte(yaml)); err != nil {
		return nil, err
	}
	if err := c.ApplyEnv(lookup); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

// Golden error messages: the full text, as an operator sees it.
func TestErrorMessages(t *testing.T) {
	tests := []struct {
		name, yaml, want string
		sentinel         error
	}{
		{"unknown key", base + "colour: blue\n",
			`ward.yaml:4: unknown key "colour"`, config.ErrUnknownKey},
		{"typo with suggestion", "isuer: https://as.example\n",
			`ward.yaml:1: unknown key "isuer" (did you mean "issuer"?)`, config.ErrUnknownKey},
		{"nested typo", base + "tokens:\n  acess_token_ttl: 5m\n",
			`ward.yaml:5: unknown key "acess_token_ttl" in tokens (did you mean "access_token_ttl"?)`, config.ErrUnknownKey},
		{"bad duration", base + "tokens:\n  access_token_ttl: 10x\n",
			`ward.yaml:5: tokens.access_token_ttl: "10x" is not a duration (use units ms, s, m, h or d, e.g. 10m)`, config.ErrInvalidValue},
		{"duration too long", base + "tokens:\n  access_token_ttl: 2h\n",
			`ward.yaml:5: tokens.access_token_ttl: 2h0m0s exceeds the maximum of 1h0m0s`, config.ErrInvalidValue},
		{"bad URL", "issuer: as.example\ntls: {cert_file: c, key_file: k}\nkeys: {kek_file: /k}\n",
			`ward.yaml:1: issuer: "as.example" is not an absolute URL`, config.ErrInvalidValue},
		{"http issuer", "issuer: http://as.example\nkeys: {kek_file: /k}\n",
			`ward.yaml:1: issuer: "http://as.example" must use https (http is allowed only in dev mode)`, config.ErrInvalidValue},
		{"trailing slash", "issuer: https://as.example/\ntls: {cert_file: c, key_file: k}\nkeys: {kek_file: /k}\n",
			`ward.yaml:1: issuer: "https://as.example/" must not end with "/" (write "https://as.example")`, config.ErrInvalidValue},
		{"missing issuer", "keys: {kek_file: /k}\n",
			`ward.yaml: issuer: required (the https URL clients use to reach this server)`, config.ErrMissing},
		{"missing client id", base + "clients:\n  - auth_method: none\n    redirect_uris: [https://app.example/cb]\n",
			`ward.yaml:5: clients[0].id: required`, config.ErrMissing},
		{"password grant", base + "clients:\n  - id: a\n    auth_method: client_secret_basic\n    secret_env: S\n    grant_types: [client_credentials, password]\n",
			`ward.yaml:8: clients[0].grant_types[1]: the password grant was removed in OAuth 2.1; use authorization_code with PKCE`, config.ErrInvalidValue},
		{"implicit grant", base + "clients:\n  - id: a\n    auth_method: none\n    redirect_uris: [https://a.example/cb]\n    grant_types: [implicit]\n",
			`ward.yaml:8: clients[0].grant_types[0]: the implicit grant was removed in OAuth 2.1; use authorization_code with PKCE`, config.ErrInvalidValue},
		{"bad boolean", base + "par:\n  required: yes\n",
			`ward.yaml:5: par.required: "yes" is not a boolean (true or false)`, config.ErrInvalidValue},
		{"list expected", base + "dpop:\n  algorithms: ES256\n",
			`ward.yaml:5: dpop.algorithms: expected a list, not "ES256"`, config.ErrInvalidValue},
		{"bad CIDR", "issuer: https://as.example\nkeys: {kek_file: /k}\nbehind_tls_proxy:\n  trusted_proxies: [10.0.0.0/33]\n",
			`ward.yaml:4: behind_tls_proxy.trusted_proxies[0]: "10.0.0.0/33" is not a CIDR network such as 10.0.0.0/8`, config.ErrInvalidValue},
		{"syntax", "issuer: [\n",
			`ward.yaml:1: did not find expected node content`, config.ErrSyntax},
		{"duplicate key", base + "listen: :1\nlisten: :2\n",
			`ward.yaml:5: listen: duplicate key`, config.ErrInvalidValue},
		{"unset secret env", base + "clients:\n  - id: a\n    auth_method: client_secret_basic\n    secret_env: NOPE\n    grant_types: [client_credentials]\n",
			`ward.yaml:7: clients[0].secret_env: environment variable NOPE is not set`, config.ErrMissing},
		{"confidential loopback without port", base + "clients:\n  - id: a\n    auth_method: client_secret_basic\n    secret_env: S\n    redirect_uris: [http://127.0.0.1/cb]\n",
			`ward.yaml:8: clients[0].redirect_uris[0]: "http://127.0.0.1/cb" has no port: a confidential client's loopback redirect URI is compared exactly, port included (any port, RFC 8252 §7.3, is for public clients); write the port its listener uses`, config.ErrInvalidValue},
		{"remembered consent for a confidential client", base + "clients:\n  - id: a\n    auth_method: client_secret_basic\n    secret_env: S\n    redirect_uris: [https://a.example/cb]\n    allow_remembered_consent: true\n",
			`ward.yaml:9: clients[0].allow_remembered_consent: applies only to public clients (auth_method none); a confidential client always keeps remembered consent`, config.ErrInvalidValue},
		{"bad hsts", base + "authorization_server:\n  hsts: one year\n",
			`ward.yaml:5: authorization_server.hsts: "one year" is not a Strict-Transport-Security value such as "max-age=31536000", or off`, config.ErrInvalidValue},
		{"dpop none", base + "dpop:\n  algorithms: [none]\n",
			`ward.yaml:5: dpop.algorithms[0]: "none" is not allowed: DPoP proofs are signed with an asymmetric key (RFC 9449 §4.2)`, config.ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load("ward.yaml", tt.yaml, func(k string) (string, bool) {
				if k == "S" {
					return "secret", true
				}
				return "", false
			})
			if err == nil {
				t.Fatalf("no error, want %s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error does not wrap %v", tt.sentinel)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Errorf("error is not a *config.Error")
			}
		})
	}
}

func TestAllProblemsReported(t *testing.T) {
	_, err := load("w.yaml", "issuer: http://x\nisuer: 1\ntokens:\n  code_ttl: 2m\n  access_token_ttl: -1s\n", noEnv)
	want := []string{
		`w.yaml:2: unknown key "isuer" (did you mean "issuer"?)`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("decode errors: %v", err)
	}
	c := config.Default()
	_ = c.Decode("w.yaml", []byte("issuer: http://x\ntokens:\n  code_ttl: 2m\n  access_token_ttl: -1s\n"))
	err = c.Validate()
	want = []string{
		`w.yaml:1: issuer: "http://x" must use https (http is allowed only in dev mode)`,
		`w.yaml:4: tokens.access_token_ttl: must be positive`,
		`w.yaml:3: tokens.code_ttl: 2m0s exceeds the maximum of 1m0s`,
		`w.yaml: keys.kek_file: required unless WARD_KEY_ENCRYPTION_KEY is set`,
	}
	got := strings.Split(err.Error(), "\n")
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("missing %q in\n%v", w, err)
		}
	}
}

func TestValidateClients(t *testing.T) {
	tests := []struct {
		name, client, want string // want: substring of the error, "" for valid
	}{
		{"public ok", "{id: a, auth_method: none, redirect_uris: [https://a.example/cb]}", ""},
		{"loopback http", "{id: a, auth_method: none, redirect_uris: ['http://127.0.0.1:8080/cb', 'http://[::1]/cb']}", ""},
		{"private-use scheme", "{id: a, auth_method: none, redirect_uris: ['com.example.app:/cb']}", ""},
		{"public with secret", "{id: a, auth_method: none, secret_env: S, redirect_uris: [https://a.example/cb]}", "a public client (none) has no secret"},
		{"public client_credentials", "{id: a, auth_method: none, grant_types: [client_credentials]}", "needs a confidential client"},
		{"fragment", "{id: a, auth_method: none, redirect_uris: ['https://a.example/cb#x']}", "must not have a fragment"},
		{"relative", "{id: a, auth_method: none, redirect_uris: [/cb]}", "is not an absolute URI"},
		{"http remote", "{id: a, auth_method: none, redirect_uris: ['http://a.example/cb']}", "only loopback addresses"},
		{"localhost", "{id: a, auth_method: none, redirect_uris: ['http://localhost/cb']}", "uses localhost"},
		{"bare scheme", "{id: a, auth_method: none, redirect_uris: ['myapp:/cb']}", "reverse domain name"},
		{"wildcard", "{id: a, auth_method: none, redirect_uris: ['https://*.a.example/cb']}", "wildcards"},
		{"no redirect", "{id: a, auth_method: none}", "redirect_uris: required"},
		{"bad hash", "{id: a, auth_method: client_secret_basic, secret_hash: abc, grant_types: [client_credentials]}", "64 hex digits"},
		{"secret and env", "{id: a, auth_method: client_secret_post, secret_env: S, secret_hash: 7fccb1e7c6b606c58525851cc1bfe1bdeed2251a07fefc0e269e1382d3c97406, grant_types: [client_credentials]}", "exactly one of secret_hash"},
		{"pkjwt no keys", "{id: a, auth_method: private_key_jwt, grant_types: [client_credentials]}", "exactly one of jwks"},
		{"pkjwt private key", `{id: a, auth_method: private_key_jwt, grant_types: [client_credentials], jwks: '{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}'}`, "not a public key"},
		{"pkjwt bad json", "{id: a, auth_method: private_key_jwt, grant_types: [client_credentials], jwks: 'nope'}", "not a JSON Web Key Set"},
		{"bad method", "{id: a, auth_method: tls_client_oops, grant_types: [client_credentials]}", `"tls_client_oops" is not one of`},
		{"bad constraint", "{id: a, auth_method: none, redirect_uris: [https://a.example/cb], sender_constraint: maybe}", `"maybe" is not one of dpop`},
		{"ttl too long", "{id: a, auth_method: none, redirect_uris: [https://a.example/cb], access_token_ttl: 2h}", "exceeds the maximum of 1h0m0s"},
		{"bad audience", "{id: a, auth_method: none, redirect_uris: [https://a.example/cb], audiences: [api]}", "not an absolute URI"},
		{"signed request objects without keys", "{id: a, auth_method: client_secret_basic, secret_env: S, redirect_uris: [https://a.example/cb], require_signed_request_object: true}", "clients[0].require_signed_request_object: needs the client's public keys"},
		{"signed request objects with keys", `{id: a, auth_method: private_key_jwt, redirect_uris: [https://a.example/cb], require_signed_request_object: true, jwks: '{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}'}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load("w.yaml", base+"clients:\n  - "+tt.client+"\n", func(k string) (string, bool) { return "s", k == "S" })
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestExampleFileLoads(t *testing.T) {
	t.Setenv("WARD_CLIENT_BILLING_SECRET", "billing-secret")
	t.Setenv("WARD_USER_BOB_PASSWORD", "hunter2")
	t.Setenv(config.EnvStoreDSN, "")
	t.Setenv(config.EnvKeyEncryptionKey, "")
	t.Setenv(config.EnvDPoPNonceSecret, "")
	c, err := config.Load(filepath.Join("..", "ward.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "https://auth.example.com" || len(c.Clients) != 4 || len(c.Users) != 2 {
		t.Fatalf("unexpected config: %+v", c)
	}
	if c.Keys.RotationPeriod != 30*24*time.Hour {
		t.Errorf("rotation_period = %v", c.Keys.RotationPeriod)
	}
	if c.Clients[1].Secret != "billing-secret" || c.Users[1].Password != "hunter2" {
		t.Error("secrets from the environment not applied")
	}
	if !strings.Contains(c.Clients[3].JWKS, `"kid":"reports-1"`) {
		t.Errorf("jwks mapping not converted to JSON: %s", c.Clients[3].JWKS)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := map[string]string{
		config.EnvStoreDSN:         "postgres://db/ward",
		config.EnvKeyEncryptionKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		config.EnvDPoPNonceSecret:  "nonce-secret",
	}
	c, err := load("w.yaml", "issuer: https://as.example\ntls: {cert_file: c, key_file: k}\nstore: {driver: postgres}\ndpop: {nonce: {enabled: true}}\n",
		func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c.StoreDSN() != "postgres://db/ward" || c.Keys.KEK == "" || c.DPoP.Nonce.Secret != "nonce-secret" {
		t.Fatalf("overrides not applied: %+v", c)
	}
}

func TestDev(t *testing.T) {
	c := config.Dev(t.TempDir())
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "http://127.0.0.1:9000" || c.Listen != "127.0.0.1:9000" {
		t.Fatalf("dev defaults: %s %s", c.Issuer, c.Listen)
	}
	if c.StoreDSN() != filepath.Join(c.DataDir, "ward.db") {
		t.Fatalf("dsn %s", c.StoreDSN())
	}
	// Dev mode still refuses what OAuth 2.1 removed.
	c.Clients = []config.Client{{ID: "a", AuthMethod: "none", GrantTypes: []oauth.GrantType{"password"}}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "clients[0].grant_types[0]: the password grant") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmptyFileAndMissingFile(t *testing.T) {
	c := config.Default()
	if err := c.Decode("w.yaml", nil); err != nil {
		t.Fatal(err)
	}
	if c.Tokens.AccessTokenTTL != 10*time.Minute {
		t.Fatal("defaults lost")
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func TestAliasBomb(t *testing.T) {
	y := "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nclients: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	c := config.Default()
	if err := c.Decode("w.yaml", []byte(y)); err == nil {
		t.Fatal("no error")
	}
}

// TestMergeKeyAliasBomb: merge keys (<<) whose value is a list of
// aliases to lists are bounded like other aliases: a list holding itself
// used to recurse until the stack overflowed (a fatal error, no
// recover), and lists of lists multiplied work without counting it.
func TestMergeKeyAliasBomb(t *testing.T) {
	nested := "a: &a [{}, {}, {}, {}, {}, {}, {}, {}, {}, {}]\n"
	prev := "a"
	for i := range 12 {
		name := fmt.Sprintf("l%d", i)
		nested += fmt.Sprintf("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	for name, y := range map[string]string{
		"self":   "issuer: https://as.example\n<<: &s [*s]\n",
		"nested": "x:\n" + indent(nested) + "<<: *" + prev + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				c := config.Default()
				done <- c.Decode("w.yaml", []byte(y))
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "document too large") {
					t.Fatalf("err = %v, want document too large", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("decoding did not end within 10s")
			}
		})
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "ward.example.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(base))
	f.Add([]byte("clients: [{id: a, jwks: {keys: [1]}}]\n<<: {issuer: x}\n"))
	f.Add([]byte("tokens: {code_ttl: 99999999d}\nbehind_tls_proxy: {trusted_proxies: [::/0]}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := config.Default()
		if err := c.Decode("f.yaml", b); err != nil {
			return
		}
		_ = c.ApplyEnv(func(string) (string, bool) { return "x", true })
		_ = c.Validate()
	})
}

func TestBadKEKFromEnv(t *testing.T) {
	_, err := load("w.yaml", "issuer: https://as.example\ntls: {cert_file: c, key_file: k}\n",
		func(k string) (string, bool) { return "c2hvcnQ=", k == config.EnvKeyEncryptionKey })
	if err == nil || err.Error() != "w.yaml: keys: WARD_KEY_ENCRYPTION_KEY must be the base64 encoding of 32 bytes" {
		t.Fatalf("err = %v", err)
	}
}

// TestRefreshTokenReuseGrace: tokens.refresh_token_reuse_grace defaults to
// 30s, 0 turns it off, and a value outside [0, 5m] names the key and line.
func TestRefreshTokenReuseGrace(t *testing.T) {
	if g := config.Default().Tokens.RefreshTokenReuseGrace; g != 30*time.Second {
		t.Errorf("default %v, want 30s", g)
	}
	for _, tc := range []struct{ value, want string }{
		{"0s", ""},
		{"5m", ""},
		{"6m", `w.yaml:3: tokens.refresh_token_reuse_grace: 6m0s is not between 0 (off) and 5m0s`},
		{"-1s", `w.yaml:3: tokens.refresh_token_reuse_grace: -1s is not between 0 (off) and 5m0s`},
	} {
		c := config.Default()
		if err := c.Decode("w.yaml", []byte("issuer: http://x\ntokens:\n  refresh_token_reuse_grace: "+tc.value+"\n")); err != nil {
			t.Fatal(err)
		}
		err := c.Validate()
		has := err != nil && strings.Contains(err.Error(), "refresh_token_reuse_grace")
		if tc.want == "" && has || tc.want != "" && (!has || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.value, err, tc.want)
		}
	}
}

// TestStoreTimeouts: store.timeout and store.startup_timeout default to 5s
// and 30s, and a zero, negative or too long value is refused naming the
// key and its line.
func TestStoreTimeouts(t *testing.T) {
	c, err := load("ward.yaml", base, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Timeout != 5*time.Second || c.Store.StartupTimeout != 30*time.Second || !c.Store.ServerTimeouts {
		t.Errorf("defaults: timeout %v, startup_timeout %v, server_timeouts %v; want 5s, 30s, true", c.Store.Timeout, c.Store.StartupTimeout, c.Store.ServerTimeouts)
	}
	c, err = load("ward.yaml", base+"store:\n  timeout: 2s\n  startup_timeout: 2m\n  server_timeouts: false\n", noEnv)
	if err != nil || c.Store.Timeout != 2*time.Second || c.Store.StartupTimeout != 2*time.Minute || c.Store.ServerTimeouts {
		t.Fatalf("set: %v, %+v", err, c.Store)
	}
	for yaml, want := range map[string]string{
		"store:\n  timeout: 0s\n":          `ward.yaml:5: store.timeout: must be positive`,
		"store:\n  timeout: 2m\n":          `ward.yaml:5: store.timeout: 2m0s exceeds the maximum of 1m0s`,
		"store:\n  startup_timeout: -1s\n": `ward.yaml:5: store.startup_timeout: must be positive`,
		"store:\n  startup_timeout: 2h\n":  `ward.yaml:5: store.startup_timeout: 2h0m0s exceeds the maximum of 1h0m0s`,
	} {
		_, err := load("ward.yaml", base+yaml, noEnv)
		if err == nil || err.Error() != want || !errors.Is(err, config.ErrInvalidValue) {
			t.Errorf("%q: %v; want %s", yaml, err, want)
		}
	}
}

// TestRequestObjectsRequiredNeedsKeys: request_objects.required refuses a
// static client of the authorization_code grant that has no keys to sign
// request objects with, naming its jwks key; a client_credentials-only
// client is not concerned.
func TestRequestObjectsRequiredNeedsKeys(t *testing.T) {
	y := base + "request_objects:\n  required: true\nclients:\n" +
		"  - {id: svc, auth_method: client_secret_basic, secret_env: S, grant_types: [client_credentials]}\n" +
		"  - {id: web, auth_method: client_secret_basic, secret_env: S, redirect_uris: [https://a.example/cb]}\n"
	_, err := load("w.yaml", y, func(k string) (string, bool) { return "s", k == "S" })
	if err == nil || !strings.Contains(err.Error(), "clients[1].jwks: request_objects.required") || strings.Contains(err.Error(), "clients[0]") {
		t.Fatalf("error %v, want one for clients[1].jwks only", err)
	}
}
