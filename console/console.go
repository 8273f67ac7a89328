package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/bff"
	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// ErrConfig wraps every configuration New refuses.
var ErrConfig = errors.New("console: invalid configuration")

// Accounts is what the console needs of the authorization server's
// failed-login throttling (authz.Server implements it).
type Accounts interface {
	AccountLocked(username string) bool
	UnlockAccount(username string) bool
	// ForgetClient drops a client from the server's cache, so that a
	// change takes effect at once in this process.
	ForgetClient(id string)
}

// Options are the console's dependencies.
type Options struct {
	// Issuer of the authorization server the console is mounted in
	// (its origin is the console's). Required; without a path.
	Issuer string
	// Handler is the authorization server's handler, with the console
	// mounted: the in-process transport of the BFF and the admin API
	// (inproc.go). Required.
	Handler http.Handler
	// Store of the authorization server. Required.
	Store store.Store
	// Keys rotates the signing keys. Required.
	Keys *keys.Manager
	// Accounts lifts login locks and refreshes the client cache;
	// optional (then unlock is refused).
	Accounts Accounts
	// ClientSecret of the console's client. Required.
	ClientSecret string
	// Events receives the admin actions; nil: none.
	Events *secevent.Emitter
	// Replay remembers the admin API's DPoP proofs; default in memory.
	Replay dpop.ReplayStore
	// Logger; default slog.Default(). Registry receives the BFF's
	// metrics (site "console"); nil: not registered.
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// Clock; default time.Now.
	Clock func() time.Time
	// Instance names this process in the events; default "ward".
	Instance string
	// Sessions keeps the console's sessions; default the BFF's memory
	// store (one instance). SessionKey seals them (32 bytes; required
	// with a shared store).
	Sessions   bff.Store
	SessionKey []byte
}

// Console serves everything under its prefix: the shell and its static
// files, the BFF's endpoints (prefix/bff/...) and the admin API
// (prefix/admin-api/...). It is safe for concurrent use.
type Console struct {
	cfg    config.Console
	prefix string
	site   *bff.Site
	api    *API
}

// apiPath and bffPath are under the console's prefix.
const (
	apiPath = "/admin-api"
	bffPath = "/bff"
)

// New builds the console described by cfg (a validated console section).
func New(cfg config.Console, opts Options) (*Console, error) {
	cfg = cfg.WithDefaults()
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: mustInproc(opts), Timeout: 30 * time.Second}
	issuer := strings.TrimSuffix(opts.Issuer, "/")
	apiURL := issuer + cfg.PathPrefix + apiPath
	site, err := bff.New(siteConfig(cfg, issuer, apiURL), bff.Options{
		Issuer: issuer, ClientSecret: opts.ClientSecret, HTTPClient: hc, Endpoint: endpoint(issuer),
		Logger: opts.Logger, Registry: opts.Registry, Clock: opts.Clock, Store: opts.Sessions, SessionKey: opts.SessionKey,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	api, err := newAPI(cfg, opts, hc, apiURL)
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, prefix: cfg.PathPrefix, site: site, api: api}, nil
}

func checkOptions(o *Options) error {
	switch {
	case o.Issuer == "" || o.Handler == nil || o.Store == nil || o.Keys == nil:
		return fmt.Errorf("%w: Issuer, Handler, Store and Keys are required", ErrConfig)
	case o.ClientSecret == "":
		return fmt.Errorf("%w: no client secret", ErrConfig)
	}
	if u, err := url.Parse(o.Issuer); err != nil || strings.Trim(u.Path, "/") != "" {
		return fmt.Errorf("%w: the console needs an issuer without a path, not %q", ErrConfig, o.Issuer)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Replay == nil {
		o.Replay = dpop.NewMemoryReplayStore(0, o.Clock)
	}
	if o.Instance == "" {
		o.Instance = "ward"
	}
	return nil
}

func mustInproc(o Options) http.RoundTripper {
	t, err := newInproc(o.Handler, o.Issuer)
	if err != nil {
		panic(err) // checkOptions parsed the issuer
	}
	return t
}

// siteConfig is the console's BFF site: on the issuer's origin, under
// prefix/bff, scope ward:admin, the admin API as its API and resource.
func siteConfig(c config.Console, issuer, apiURL string) config.BFF {
	return config.BFF{
		Name: "console", PublicURL: issuer, PathPrefix: c.PathPrefix + bffPath, ClientID: c.ClientID,
		Scopes: []string{config.ConsoleScope}, Resource: apiURL, API: apiURL,
		AfterLogin: c.PathPrefix + "/", AfterLogout: c.PathPrefix + "/",
		Session: config.BFFSession{Lifetime: c.Lifetime, IdleTimeout: c.IdleTimeout},
	}
}

// endpoint is the authorization server's endpoints: the console is
// mounted in it, so it needs no discovery.
func endpoint(issuer string) *client.Endpoint {
	return &client.Endpoint{
		Issuer: issuer, AuthURL: issuer + authz.PathAuthorize, TokenURL: issuer + authz.PathToken,
		PARURL: issuer + authz.PathPAR, RevocationURL: issuer + authz.PathRevoke,
		IntrospectionURL: issuer + authz.PathIntrospect, ISSParameterSupported: true,
	}
}

// Prefix is the console's path prefix, such as /console.
func (c *Console) Prefix() string { return c.prefix }

// Pattern is the http.ServeMux pattern to mount the console at.
func (c *Console) Pattern() string { return c.prefix + "/" }

// ServeHTTP routes to the BFF, the admin API, the static files or the
// shell.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, c.prefix)
	switch {
	case !ok:
		http.NotFound(w, r)
	case rest == bffPath || strings.HasPrefix(rest, bffPath+"/"):
		c.site.ServeHTTP(w, r)
	case rest == apiPath || strings.HasPrefix(rest, apiPath+"/"):
		c.api.ServeHTTP(w, r)
	default:
		serveShell(w, r, c.prefix, rest)
	}
}

// ClientFor is the console's client as Ward declares it at start: a
// confidential, DPoP-bound client of the authorization code flow with
// PAR, whose only scope is ward:admin and whose tokens are for the admin
// API only.
func ClientFor(c config.Console, issuer string) *store.Client {
	c = c.WithDefaults()
	issuer = strings.TrimSuffix(issuer, "/")
	return &store.Client{
		ID: c.ClientID, Name: "Ward admin console", AuthMethod: oauth.AuthSecretBasic,
		GrantTypes:   []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		RedirectURIs: []string{issuer + c.PathPrefix + bffPath + "/callback"},
		Scopes:       []string{config.ConsoleScope}, Audiences: []string{issuer + c.PathPrefix + apiPath},
		SenderConstraint: store.ConstraintDPoP, RequirePAR: true, Static: true,
	}
}

// DeclareClient stores the console's client (ClientFor) with secret's
// hash, replacing any earlier declaration: call it at start, before
// serving, as the configuration's static clients are.
func DeclareClient(ctx context.Context, st store.Clients, c config.Console, issuer, secret string, now time.Time) error {
	cl := ClientFor(c, issuer)
	cl.SecretHash, cl.CreatedAt = authz.HashClientSecret(secret), now
	if err := st.UpsertClient(ctx, cl); err != nil {
		return fmt.Errorf("console: declaring client %q: %w", cl.ID, err)
	}
	return nil
}
