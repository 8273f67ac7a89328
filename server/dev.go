package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/demo"
	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// Dev-mode demo identities.
const (
	devServiceClient = "demo-service"
	devPublicClient  = "demo-cli"
	devUser          = "demo"
	devAdminUser     = "admin"
	devAdminSubject  = "user-admin"
	devSubject       = "user-demo"
	devGatewayURL    = "http://" + config.DevGatewayListen // unless --gateway-listen
	devRedirectURI   = "http://127.0.0.1/callback"
	devCredsFile     = "dev-credentials.json"
	devBFFSecretFile = "demo-bff-secret"
	devAppPath       = "/app/"
)

// DevCredentials is <data>/dev-credentials.json: what a script needs to
// talk to a dev server. Mode 0600.
type DevCredentials struct {
	Issuer     string `json:"issuer"`
	GatewayURL string `json:"gateway_url"`
	Service    struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Scope        string `json:"scope"`
	} `json:"confidential_client"`
	Public struct {
		ClientID    string `json:"client_id"`
		RedirectURI string `json:"redirect_uri"`
		Scope       string `json:"scope"`
	} `json:"public_client"`
	User struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Subject  string `json:"subject"`
	} `json:"user"`
	// Admin is the dev administrator: a user with the admin role, for
	// the admin console (docs/CONSOLE.md).
	Admin struct {
		Username   string `json:"username"`
		Password   string `json:"password"`
		Subject    string `json:"subject"`
		ConsoleURL string `json:"console_url"`
	} `json:"admin"`
	// BFF is the client of the demo BFF site (the gateway's, not a
	// script's); its secret is also in demo-bff-secret for the gateway.
	BFF struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		AppURL       string `json:"app_url"`
	} `json:"bff_client"`
}

// devBootstrap declares the demo clients and user. Their secrets are made
// on first start and kept in dev-credentials.json, which later starts read
// back, so the printed credentials stay valid across restarts.
func devBootstrap(ctx context.Context, cfg *config.Config, st store.Store) (*DevCredentials, error) {
	path := filepath.Join(cfg.DataDir, devCredsFile)
	c, err := loadDevCredentials(path, cfg.Issuer, devGateway(cfg))
	if err != nil {
		return nil, err
	}
	t := now()
	for _, cl := range devClients(c, t) {
		if err := st.UpsertClient(ctx, cl); err != nil {
			return nil, err
		}
	}
	hash, err := password.Hash(c.User.Password)
	if err != nil {
		return nil, err
	}
	if err := st.UpsertUser(ctx, &store.User{Subject: devSubject, Username: devUser, PasswordHash: hash, CreatedAt: t, UpdatedAt: t,
		Claims: store.UserClaims{Name: "Demo User", PreferredUsername: devUser}}); err != nil {
		return nil, err
	}
	if err := devAdmin(ctx, cfg, st, c, t); err != nil {
		return nil, err
	}
	out, _ := json.MarshalIndent(c, "", "  ")
	if err := writeFile0600(path, append(out, '\n')); err != nil {
		return nil, err
	}
	if err := writeFile0600(filepath.Join(cfg.DataDir, devBFFSecretFile), []byte(c.BFF.ClientSecret+"\n")); err != nil {
		return nil, err
	}
	return c, nil
}

// loadDevCredentials reads the credentials file, or makes new secrets when
// there is none, and fills in the fixed names.
func loadDevCredentials(path, issuer, gatewayURL string) (*DevCredentials, error) {
	var c DevCredentials
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("%s: %w (delete it to start afresh)", path, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		c.Service.ClientSecret, _ = authz.NewClientSecret()
		c.User.Password = randomString(18)
	default:
		return nil, err
	}
	c.Issuer, c.GatewayURL = issuer, gatewayURL
	c.Service.ClientID, c.Service.Scope = devServiceClient, "demo:read demo:write"
	c.Public.ClientID, c.Public.RedirectURI, c.Public.Scope = devPublicClient, devRedirectURI, "demo:read"
	c.User.Username, c.User.Subject = devUser, devSubject
	if c.BFF.ClientSecret == "" { // a credentials file from before the BFF
		c.BFF.ClientSecret, _ = authz.NewClientSecret()
	}
	c.BFF.ClientID, c.BFF.AppURL = demo.DevBFFClient, gatewayURL+devAppPath
	if c.Admin.Password == "" { // a credentials file from before the console
		c.Admin.Password = randomString(18)
	}
	c.Admin.Username, c.Admin.Subject = devAdminUser, devAdminSubject
	return &c, nil
}

// devClients are the demo clients, with the secrets of c.
func devClients(c *DevCredentials, now time.Time) []*store.Client {
	return []*store.Client{{
		ID: devServiceClient, Name: "Demo service (confidential)", AuthMethod: oauth.AuthSecretBasic,
		SecretHash: authz.HashClientSecret(c.Service.ClientSecret),
		GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials, oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		// An https redirect would be required outside dev mode.
		RedirectURIs: []string{"http://127.0.0.1:9999/callback"},
		Scopes:       []string{"demo:read", "demo:write"}, Audiences: []string{c.GatewayURL},
		SenderConstraint: store.ConstraintDPoP, CreatedAt: now,
	}, {
		ID: devPublicClient, Name: "Demo CLI (public)", AuthMethod: oauth.AuthNone,
		GrantTypes:   []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		RedirectURIs: []string{devRedirectURI},
		// openid, profile, email: `ward token --dev --openid`.
		Scopes:           []string{"demo:read", "openid", "profile", "email"},
		Audiences:        []string{c.GatewayURL},
		SenderConstraint: store.ConstraintDPoP, CreatedAt: now,
	}, {
		ID: demo.DevBFFClient, Name: "Demo app's backend-for-frontend (confidential)", AuthMethod: oauth.AuthSecretBasic,
		SecretHash:   authz.HashClientSecret(c.BFF.ClientSecret),
		GrantTypes:   []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		RedirectURIs: []string{c.GatewayURL + config.DefaultBFFPrefix + "/callback"},
		// OpenID Connect: the site shows the user's name and logs out
		// through end_session, back to the app.
		Scopes:                 []string{"demo:read", "openid", "profile"},
		PostLogoutRedirectURIs: []string{c.GatewayURL + devAppPath},
		Audiences:              []string{c.GatewayURL},
		SenderConstraint:       store.ConstraintDPoP, CreatedAt: now,
	}}
}

func printDevCredentials(w io.Writer, cfg *config.Config, c *DevCredentials) {
	fmt.Fprintf(w, "ward: demo confidential client  %s  secret %s  (client_credentials, DPoP required)\n", c.Service.ClientID, c.Service.ClientSecret)
	fmt.Fprintf(w, "ward: demo public client        %s  redirect %s (any loopback port)\n", c.Public.ClientID, c.Public.RedirectURI)
	fmt.Fprintf(w, "ward: demo user                 %s  password %s\n", c.User.Username, c.User.Password)
	fmt.Fprintf(w, "ward: demo browser app          %s  (logs in through the gateway's BFF; the page never holds a token)\n", c.BFF.AppURL)
	if cfg.Console.Enabled {
		fmt.Fprintf(w, "ward: admin console             %s  user %s password %s\n", c.Admin.ConsoleURL, c.Admin.Username, c.Admin.Password)
	}
	fmt.Fprintf(w, "ward: all of it is in %s (mode 0600)\n", filepath.Join(cfg.DataDir, devCredsFile))
}

// writeFile0600 writes a secret file atomically with mode 0600.
func writeFile0600(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ensureSecretFile returns the 32-byte key in path, creating it (0600) with
// random bytes if absent.
func ensureSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return decodeKey32(strings.TrimSpace(string(b)))
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := writeFile0600(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n")); err != nil {
		return nil, err
	}
	return k, nil
}

// decodeKey32 reads a base64 (standard or URL, padded or not) 32-byte key.
func decodeKey32(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != 32 {
				return nil, fmt.Errorf("key is %d bytes, want 32", len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("key is not base64")
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("dev mode listens on loopback only; %q is not a loopback address", addr)
	}
	return nil
}

// devGateway is the dev gateway's URL: http://127.0.0.1:9001, or where
// --gateway-listen put it.
func devGateway(cfg *config.Config) string {
	if cfg.Gateway.PublicURL != "" {
		return cfg.Gateway.PublicURL
	}
	return devGatewayURL
}

// devAdmin declares the dev administrator: a user with the console's
// admin role.
func devAdmin(ctx context.Context, cfg *config.Config, st store.Store, c *DevCredentials, t time.Time) error {
	cc := cfg.Console.WithDefaults()
	c.Admin.ConsoleURL = cfg.Issuer + cc.PathPrefix + "/"
	hash, err := password.Hash(c.Admin.Password)
	if err != nil {
		return err
	}
	return st.UpsertUser(ctx, &store.User{Subject: devAdminSubject, Username: devAdminUser, PasswordHash: hash, CreatedAt: t, UpdatedAt: t,
		Claims: store.UserClaims{Name: "Dev Administrator", PreferredUsername: devAdminUser, Roles: []string{cc.AdminRole}}})
}
