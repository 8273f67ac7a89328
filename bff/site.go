package bff

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/policy"
)

// Options are a Site's dependencies that do not come from the file.
type Options struct {
	// Issuer is the authorization server's issuer identifier. Required.
	Issuer string
	// ClientSecret of the site's confidential client. Required.
	ClientSecret string
	// Store keeps sessions and logins in progress; default a MemoryStore
	// of cfg.Session.MaxSessions entries.
	Store Store
	// SessionKey seals the store's values (32 bytes). Required with a
	// shared store; default a random key (sessions then die with the
	// process, as the memory store's do anyway).
	SessionKey []byte
	// HTTPClient talks to the authorization server and the API; its
	// redirects are never followed. Default: a client with a 30 s
	// timeout for the authorization server; API calls have no overall
	// timeout (a response may stream) but wait at most UpstreamTimeout
	// for the response headers.
	HTTPClient *http.Client
	// UpstreamTimeout bounds the wait for an API's response headers
	// (504 after). Default 30 s.
	UpstreamTimeout time.Duration
	// Endpoint skips discovery (tests); default: RFC 8414 metadata of
	// Issuer, read at the first login.
	Endpoint *client.Endpoint
	// Logger; default slog.Default(). Tokens and cookie values are never
	// logged.
	Logger *slog.Logger
	// Registry receives the metrics; nil: not registered.
	Registry prometheus.Registerer
	// Clock of the sessions (lifetimes, idle time, grant checks); default
	// time.Now. Proofs and token expiry use the system clock, corrected
	// by the servers' Date (package client).
	Clock func() time.Time
	// MaxBodyBytes bounds an API call's request body, which is kept in
	// memory so it can be sent again after a use_dpop_nonce answer.
	// Default 1 MiB.
	MaxBodyBytes int64
}

// Site is one backend-for-frontend: an http.Handler for the paths under
// its prefix (login, callback, logout, user, api). It is safe for
// concurrent use.
type Site struct {
	cfg      config.BFF
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	store    Store
	seal     *sealer
	hc       *http.Client // to the authorization server
	apiHC    *http.Client // to the API
	origin   string       // scheme://host[:port] of the app
	secure   bool         // https: Secure, __Host- cookies
	api      *url.URL
	sessName string
	flowName string
	sameSite http.SameSite
	events   *prometheus.CounterVec

	mu sync.Mutex
	ep *client.Endpoint

	// apiClients keeps each live session's API client: its DPoP key and
	// the nonces the API gave it (RFC 9449 §9), so that calls to an API
	// that requires nonces do not each pay a use_dpop_nonce round trip.
	// Keyed by the session's store key; bounded; dropped when the
	// session ends here.
	cmu        sync.Mutex
	apiClients map[string]*client.Client
}

// maxAPIClients bounds Site.apiClients; when full it starts afresh (the
// clients are rebuilt on use, nonces fetched again).
const maxAPIClients = 10_000

// Login flows are short: the user has this long to log in.
const flowTTL = 10 * time.Minute

// touchEvery: the last-seen time is written at most this often.
const touchEvery = 15 * time.Second

// refreshMargin: an access token is renewed this long before it expires.
const refreshMargin = 30 * time.Second

// ErrConfig wraps every configuration New refuses.
var ErrConfig = errors.New("bff: invalid configuration")

// New returns the site described by cfg (a validated gateway.bff entry).
func New(cfg config.BFF, opts Options) (*Site, error) {
	cfg = cfg.WithDefaults()
	if opts.Issuer == "" {
		return nil, fmt.Errorf("%w: no issuer", ErrConfig)
	}
	if opts.ClientSecret == "" {
		return nil, fmt.Errorf("%w: site %q: no client secret", ErrConfig, cfg.Name)
	}
	pu, err := url.Parse(cfg.PublicURL)
	if err != nil || pu.Host == "" {
		return nil, fmt.Errorf("%w: site %q: public_url %q", ErrConfig, cfg.Name, cfg.PublicURL)
	}
	api, err := url.Parse(cfg.API)
	if err != nil || api.Host == "" {
		return nil, fmt.Errorf("%w: site %q: api %q", ErrConfig, cfg.Name, cfg.API)
	}
	api.Path = strings.TrimSuffix(api.Path, "/")
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Store == nil {
		opts.Store = NewMemoryStore(int(cfg.Session.MaxSessions), opts.Clock)
	}
	if opts.SessionKey == nil {
		opts.SessionKey = make([]byte, 32)
		if _, err := rand.Read(opts.SessionKey); err != nil {
			return nil, err
		}
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	seal, err := newSealer(opts.SessionKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if opts.HTTPClient != nil {
		c := *opts.HTTPClient
		hc = &c
	}
	// The API's redirects go back to the browser as they are; a proof is
	// made for one URL only, and the token must not follow a redirect.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if opts.UpstreamTimeout <= 0 {
		opts.UpstreamTimeout = 30 * time.Second
	}
	apiHC := *hc
	apiHC.Timeout = 0
	if apiHC.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = opts.UpstreamTimeout
		apiHC.Transport = t
	}
	s := &Site{
		cfg: cfg, opts: opts, log: opts.Logger.With("bff", cfg.Name), now: opts.Clock, store: opts.Store, seal: seal,
		hc: hc, apiHC: &apiHC, origin: pu.Scheme + "://" + pu.Host, secure: pu.Scheme == "https", api: api, ep: opts.Endpoint,
		sameSite: http.SameSiteStrictMode,
	}
	if cfg.Session.SameSite == "lax" {
		s.sameSite = http.SameSiteLaxMode
	}
	// RFC 6265bis §4.1.3.2: a __Host- cookie is Secure, host-only, Path=/.
	// Browsers refuse Secure cookies from http origins, so the dev site on
	// http://127.0.0.1 uses plain names (validation allows http only for
	// loopback in dev mode).
	prefix := "ward-bff-"
	if s.secure {
		prefix = "__Host-ward-bff-"
	}
	s.sessName, s.flowName = prefix+cfg.Name, prefix+cfg.Name+"-login"
	s.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ward_bff_events_total",
		Help: "Backend-for-frontend events by site, endpoint and outcome (ok or the stable reason of a refusal).",
	}, []string{"site", "endpoint", "outcome"})
	if opts.Registry != nil {
		if err := opts.Registry.Register(s.events); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			s.events = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return s, nil
}

// Name returns the site's name.
func (s *Site) Name() string { return s.cfg.Name }

// Host returns the lower-case host the site answers on.
func (s *Site) Host() string { return s.cfg.Host() }

// Prefix returns the path prefix of the site's endpoints, such as /bff.
func (s *Site) Prefix() string { return s.cfg.PathPrefix }

// SessionCookie returns the name of the session cookie.
func (s *Site) SessionCookie() string { return s.sessName }

// ServeHTTP serves the endpoints under the site's prefix.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// One strict reading of the path (the gateway's, again when the site
	// serves alone): encoded slashes, dot segments and the like are
	// refused, never guessed at.
	clean, err := policy.CleanPath(r.URL.EscapedPath())
	if err == nil && !utf8.ValidString(clean) {
		err = errors.New("path not UTF-8") // RFC 3629 §3; the gateway refuses it too
	}
	if err != nil {
		s.fail(w, r, "none", &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusBadRequest, Reason: "ambiguous_path", Description: "ambiguous request path"})
		return
	}
	rest, ok := strings.CutPrefix(clean, s.cfg.PathPrefix)
	if !ok {
		s.fail(w, r, "none", notFound())
		return
	}
	switch {
	case rest == "/login":
		s.only(w, r, "login", http.MethodGet, s.login)
	case rest == "/callback":
		s.only(w, r, "callback", http.MethodGet, s.callback)
	case rest == "/logout":
		s.only(w, r, "logout", http.MethodPost, s.logout)
	case rest == "/user":
		s.only(w, r, "user", http.MethodGet, s.user)
	case rest == "/api" || strings.HasPrefix(rest, "/api/"):
		s.proxy(w, r, strings.TrimPrefix(rest, "/api"))
	default:
		s.fail(w, r, "none", notFound())
	}
}

func notFound() *oauth.Error {
	return &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusNotFound, Reason: "not_found", Description: "no such BFF endpoint"}
}

func (s *Site) only(w http.ResponseWriter, r *http.Request, endpoint, method string, h func(http.ResponseWriter, *http.Request)) {
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", method)
		s.fail(w, r, endpoint, &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusMethodNotAllowed, Reason: "method",
			Description: endpoint + " accepts " + method + " only"})
		return
	}
	h(w, r)
}

// event counts one outcome.
func (s *Site) event(endpoint, outcome string) {
	s.events.WithLabelValues(s.cfg.Name, endpoint, outcome).Inc()
}

// fail renders a refusal: as JSON (RFC 6749 §5.2 shape) for the app's
// calls, as a page for the browser's navigations (login, callback).
func (s *Site) fail(w http.ResponseWriter, r *http.Request, endpoint string, e *oauth.Error) {
	s.event(endpoint, e.Reason)
	if e.Status >= 500 {
		s.log.Warn("bff request failed", "endpoint", endpoint, "reason", e.Reason, "err", e.Err)
	} else {
		s.log.Info("bff request refused", "endpoint", endpoint, "reason", e.Reason, "remote", r.RemoteAddr)
	}
	if endpoint == "login" || endpoint == "callback" {
		s.page(w, e)
		return
	}
	oauth.WriteJSON(w, e)
}

// checkRequest is the CSRF defence of every call the app makes, as the
// browser-based apps BCP (RFC 10017) describes for a BFF: the custom
// header, which a cross-site form cannot send and a cross-origin script can send
// only after a CORS preflight this site never approves, together with
// Fetch Metadata and Origin, which must name this site when present and
// one of which must be present on a state-changing call.
func (s *Site) checkRequest(r *http.Request) *oauth.Error {
	refuse := func(reason, desc string) *oauth.Error {
		return &oauth.Error{Code: oauth.AccessDenied, Status: http.StatusForbidden, Reason: reason, Description: desc}
	}
	if v := r.Header.Values(s.cfg.CSRFHeader); len(v) != 1 || v[0] != "1" {
		return refuse("csrf_header", "the request must carry the header "+s.cfg.CSRFHeader+": 1")
	}
	sfs := r.Header.Get("Sec-Fetch-Site")
	if sfs != "" && sfs != "same-origin" {
		return refuse("cross_site", "cross-site requests are refused (Sec-Fetch-Site: "+clip(sfs)+")")
	}
	origin := r.Header.Values("Origin")
	if len(origin) > 1 || len(origin) == 1 && origin[0] != s.origin {
		return refuse("bad_origin", "the request's Origin is not "+s.origin)
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
	if !safe && sfs == "" && len(origin) == 0 {
		return refuse("no_origin", "a state-changing request must carry Origin or Sec-Fetch-Site")
	}
	return nil
}

func clip(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// endpoint returns the authorization server's endpoints, discovered once
// (RFC 8414). The BFF needs PAR, revocation and introspection.
func (s *Site) endpoint(ctx context.Context) (client.Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ep != nil {
		return *s.ep, nil
	}
	ep, err := client.DiscoverEndpoint(ctx, s.opts.Issuer, client.WithHTTPClient(s.hc), client.WithScopes(s.cfg.Scopes...))
	if err != nil {
		return client.Endpoint{}, err
	}
	if ep.AuthURL == "" || ep.PARURL == "" || ep.RevocationURL == "" || ep.IntrospectionURL == "" {
		return client.Endpoint{}, fmt.Errorf("bff: %s lacks an authorization, PAR, revocation or introspection endpoint", s.opts.Issuer)
	}
	if s.oidc() && ep.JWKSURI == "" {
		return client.Endpoint{}, fmt.Errorf("bff: site %q requests openid and %s publishes no jwks_uri to verify ID tokens with", s.cfg.Name, s.opts.Issuer)
	}
	s.ep = &ep
	return ep, nil
}

// oauthClient returns the site's client at the authorization server with
// one session's DPoP key.
func (s *Site) oauthClient(ctx context.Context, key *ecdsa.PrivateKey) (*client.Client, error) {
	return s.clientWith(ctx, key, s.hc)
}

// apiClient returns the session's client for API calls, from the cache
// or new.
func (s *Site) apiClient(ctx context.Context, sid string, sess *session) (*client.Client, error) {
	k := storeKey("sess", sid)
	s.cmu.Lock()
	cl := s.apiClients[k]
	s.cmu.Unlock()
	if cl != nil {
		return cl, nil
	}
	key, err := parseKey(sess.Key)
	if err != nil {
		return nil, err
	}
	if cl, err = s.clientWith(ctx, key, s.apiHC); err != nil {
		return nil, err
	}
	s.cmu.Lock()
	if s.apiClients == nil || len(s.apiClients) >= maxAPIClients {
		s.apiClients = map[string]*client.Client{}
	}
	s.apiClients[k] = cl
	s.cmu.Unlock()
	return cl, nil
}

// forget drops a session's cached API client when the session ends.
func (s *Site) forget(sid string) {
	s.cmu.Lock()
	delete(s.apiClients, storeKey("sess", sid))
	s.cmu.Unlock()
}

// clientWith is oauthClient with the HTTP client its requests use.
func (s *Site) clientWith(ctx context.Context, key *ecdsa.PrivateKey, hc *http.Client) (*client.Client, error) {
	ep, err := s.endpoint(ctx)
	if err != nil {
		return nil, err
	}
	opts := []client.Option{
		client.WithKey(key), client.WithClientSecret(s.opts.ClientSecret, client.AuthStyleBasic),
		client.WithHTTPClient(hc), client.WithPAR(true),
	}
	if len(s.cfg.Scopes) > 0 {
		opts = append(opts, client.WithScopes(s.cfg.Scopes...))
	}
	if s.cfg.Resource != "" {
		opts = append(opts, client.WithResource(s.cfg.Resource))
	}
	if s.oidc() {
		opts = append(opts, client.WithClaimsRequest(idTokenClaims))
	}
	return client.New(ep, s.cfg.ClientID, opts...)
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func (s *Site) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration, sameSite http.SameSite) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: sameSite}
	switch {
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	default:
		c.MaxAge = -1 // delete
	}
	http.SetCookie(w, c)
}

// cookieID returns the id in the named cookie, if it has an id's shape.
func cookieID(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || !validID(c.Value) {
		return ""
	}
	return c.Value
}

func unavailable(err error, desc string) *oauth.Error {
	return &oauth.Error{Code: oauth.TemporarilyUnavailable, Status: http.StatusServiceUnavailable, Reason: "unavailable", Description: desc, Err: err}
}

func loginRequired(reason, desc string) *oauth.Error {
	return &oauth.Error{Code: oauth.LoginRequired, Status: http.StatusUnauthorized, Reason: reason, Description: desc}
}
