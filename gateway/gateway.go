package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/loglimit"
	"github.com/wardauth/ward/policy"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/revocation"
	"github.com/wardauth/ward/secevent"
)

// Options are the gateway's dependencies that do not come from the file.
type Options struct {
	// Issuer overrides cfg.Issuer (pass config.Config.GatewayIssuer()
	// when the section leaves it empty).
	Issuer string
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registry receives the metrics; default a new registry, served by
	// AdminHandler.
	Registry *prometheus.Registry
	// Clock; default time.Now.
	Clock func() time.Time
	// Keys overrides the issuer's JWKS discovery (tests, static keys).
	Keys resource.KeySource
	// HTTPClient fetches the issuer's metadata and JWKS.
	HTTPClient *http.Client
	// Introspector validates opaque tokens (RFC 7662); optional.
	Introspector resource.Introspector
	// ReplayStore for DPoP proofs; default in memory. Instances behind a
	// load balancer need a shared store.
	ReplayStore dpop.ReplayStore
	// Nonces, when set, makes the gateway require DPoP nonces.
	Nonces dpop.NonceSource
	// DPoPIATWindow: proof max age and future leeway; default 60s, 5s.
	ProofMaxAge, ProofLeeway time.Duration
	// Transport to upstreams; default a clone of http.DefaultTransport
	// with the configured upstream timeout.
	Transport http.RoundTripper
	// Upstreams maps builtin: upstream names (such as builtin:demo) to
	// the in-process handlers that serve them; a route whose builtin:
	// upstream is not here does not build. ward serve passes
	// demo.Builtins().
	Upstreams map[string]http.Handler
	// RateLimitStore keeps the rate_limits state; default in memory
	// (ratelimit.go). Instances behind a load balancer need a shared one.
	RateLimitStore ratelimit.Store
	// reverseProxyOnly turns the direct path (forward.go) off, so tests
	// can compare it with httputil.ReverseProxy.
	reverseProxyOnly bool
	// Events, when set, receives the security events of refused requests
	// (events.go, docs/EVENTS.md): leaked tokens, replayed proofs, policy
	// denials. Nil: none.
	Events *secevent.Emitter
	// Blocks, when set, refuses blocked addresses and keys and is told
	// of each refusal that counts (block.go, docs/EVENTS.md "Blocking").
	// Nil: no blocking.
	Blocks *block.Blocker
	// Revocations, when set, refuses access tokens the issuer revoked
	// (revocation.Follower keeps it current; gateway/revocations.go).
	Revocations *revocation.Set
	// Mounts are handlers the gateway serves itself, such as the
	// backend-for-frontend sites (package bff), under its security
	// headers, size limits, path cleaning, per-IP rate limits and
	// metrics. They authenticate requests themselves.
	Mounts []Mount
	// Middleware, when set, wraps the public listener's handler (Handler):
	// ward serve's tracing (package server) starts each request's span
	// there. The gateway adds the decision to the request context's span
	// when it records (tracing.go).
	Middleware func(http.Handler) http.Handler
}

// Mount is a handler served by the gateway at a host and path prefix.
type Mount struct {
	// Name labels metrics and logs; it must differ from every route's.
	Name string
	// Host, when set, must equal the request's host (without port).
	Host string
	// PathPrefix, a clean path such as /bff: the path itself and
	// everything below it.
	PathPrefix string
	// Handler gets the request with its path cleaned.
	Handler http.Handler
}

// Gateway is the reverse proxy. Its routes can be swapped with Reload
// while it serves.
type Gateway struct {
	opts     Options
	log      *slog.Logger
	clock    func() time.Time
	metrics  *metrics
	verifier *dpop.Verifier
	issuers  []issuerSource // issuers.go
	state    atomic.Pointer[state]
	ready    atomic.Bool
	mu       sync.Mutex // serialises Reload
	fixed    fixedSettings
	identity *identitySigner // nil when identity_jwt is off
	rl       *rateLimiting   // ratelimit.go
	certs    *clientCerts    // mtls.go
	authz    *authorizer     // authorizer.go; nil when off
	// refusals bounds the refusal log lines per reason (logRefusal).
	refusals *loglimit.Limiter
	secVals  atomic.Pointer[secValues]
	// proofProxies are the peers whose X-Forwarded-Proto/-Host name the
	// URL a DPoP proof must name (requestURL), without public_url.
	proofProxies []netip.Prefix
}

// fixedSettings cannot change on reload: they shape the listeners and the
// proof verifier.
type fixedSettings struct {
	issuer, publicURL, listen, admin string
	dpopAlgs                         string
	tls                              config.TLS
	identityKey                      string // identity_jwt header and key file
	mtls                             string // mtls listener, CA files and trusted-proxy header
	bff                              string // the BFF sites, built once (their sessions outlive a reload)
	issuers                          string // gateway.issuers: key caches and introspectors are built once
	authorizer                       string // the forward-auth endpoint's listener, path and trusted proxies
}

// state is one immutable configuration generation.
type state struct {
	cfg    *config.Gateway
	rs     *resource.Resource
	routes []*route
	// hosts are the hosts the gateway answers for: every route's and
	// mount's host and public_url's; nil (any host) when none is set.
	hosts map[string]bool
	// publicHost and publicPort are public_url's host (normalHost) and
	// port, explicit or the scheme's; "" without public_url.
	publicHost, publicPort string
	// metadata are the RFC 9728 documents (metadata.go).
	metadata metadataDocs
}

type route struct {
	cfg *config.Route
	// strip are the canonical names of the headers removed from every
	// upstream request: the identity headers (a client must not forge
	// them) and, unless forwarded, Authorization and DPoP.
	strip  []string
	host   string
	prefix string // without trailing slash, "" for /
	req    resource.Requirement
	policy *policy.Policy
	proxy  http.Handler
	// direct is the path that bypasses proxy for bodiless requests to a
	// plain-HTTP upstream (forward.go); nil when the route has none.
	direct *directUpstream
	// modify sets the security headers on the upstream's answer; failed
	// answers for an upstream that could not be reached or answered
	// badly. Both serve proxy and direct alike.
	modify   func(h http.Header, r *http.Request)
	failed   func(w http.ResponseWriter, r *http.Request, rec *record, err error)
	upstream string // for logs
	ih       config.IdentityHeaders
	limits   routeLimits // ratelimit.go
	// certOnly routes authenticate by client certificate alone
	// (gateway.mtls.certificate_routes).
	certOnly bool
	// spiffeHdr and thumbHdr carry the certificate's identity upstream.
	spiffeHdr, thumbHdr string
	// local serves a Mount in process, with no token check of the
	// gateway's.
	local http.Handler
	// idNames are the identity headers' names (authorizer.go answers
	// each).
	idNames []string
	// reserved are the folded names (foldName) no client header may
	// fold to (headers.go).
	reserved map[string]bool
}

// ErrConfig wraps every configuration refused by New or Reload.
var ErrConfig = errors.New("gateway: invalid configuration")

// New builds a gateway from a validated configuration section.
func New(cfg *config.Gateway, opts Options) (*Gateway, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: no configuration", ErrConfig)
	}
	opts.setDefaults()
	issuer := cfg.Issuer
	if opts.Issuer != "" {
		issuer = opts.Issuer
	}
	if issuer == "" && len(cfg.Issuers) == 0 {
		return nil, fmt.Errorf("%w: no issuer", ErrConfig)
	}
	// Up to 20 refusal lines of one reason at once, then 5 a second.
	g := &Gateway{opts: opts, log: opts.Logger, clock: opts.Clock, refusals: loglimit.New(5, 20, opts.Clock)}
	g.fixed = fixedOf(cfg, issuer)
	// The identity JWT names the gateway, never the authorization server,
	// so it cannot pass for an access token.
	idSigner, err := newIdentitySigner(cfg.IdentityJWT, audienceOr(cfg.PublicURL, "urn:ward:gateway"))
	if err != nil {
		return nil, err
	}
	g.identity = idSigner
	if g.verifier, err = g.newVerifier(cfg); err != nil {
		return nil, err
	}
	if err := g.setupIssuers(cfg, issuer); err != nil {
		return nil, err
	}
	g.metrics = newMetrics(opts.Registry)
	g.registerRevocationMetrics(opts.Registry)
	g.rl = newRateLimiting(opts.RateLimitStore, opts.Clock, opts.Registry)
	if err := g.setupClientCerts(cfg); err != nil {
		return nil, err
	}
	g.setupAuthorizer(cfg) // authorizer.go
	st, err := g.build(cfg)
	if err != nil {
		return nil, err
	}
	g.state.Store(st)
	g.ready.Store(true)
	return g, nil
}

// setDefaults fills the options left unset.
func (opts *Options) setDefaults() {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.ProofMaxAge == 0 {
		opts.ProofMaxAge = 60 * time.Second
	}
	if opts.ProofLeeway == 0 {
		opts.ProofLeeway = 5 * time.Second
	}
}

// newVerifier is the gateway's DPoP proof verifier (RFC 9449 §4.3):
// dpop_algorithms, the proof age window, the URL a proof must name, and
// the replay store and nonces when given.
func (g *Gateway) newVerifier(cfg *config.Gateway) (*dpop.Verifier, error) {
	dopts := []dpop.VerifierOption{
		dpop.WithAllowedAlgorithms(cfg.DPoPAlgorithms...),
		dpop.WithClock(g.opts.Clock),
		dpop.WithIATWindow(g.opts.ProofMaxAge, g.opts.ProofLeeway),
	}
	// The URL a proof names: public_url, else the trusted TLS proxy's
	// forwarded scheme and host, unless a front door rebuilt it
	// (requestURL, decide.go).
	if cfg.PublicURL == "" && cfg.BehindTLSProxy.Enabled() {
		g.proofProxies = cfg.BehindTLSProxy.TrustedProxies
	}
	dopts = append(dopts, dpop.WithRequestURL(g.requestURL))
	if g.opts.ReplayStore != nil {
		dopts = append(dopts, dpop.WithReplayStore(g.opts.ReplayStore))
	}
	if g.opts.Nonces != nil {
		dopts = append(dopts, dpop.WithNonces(g.opts.Nonces))
	}
	v, err := dpop.NewVerifier(dopts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return v, nil
}

func fixedOf(cfg *config.Gateway, issuer string) fixedSettings {
	return fixedSettings{
		issuer: issuer, publicURL: cfg.PublicURL, listen: cfg.Listen, admin: cfg.AdminListen,
		dpopAlgs: strings.Join(cfg.DPoPAlgorithms, " "), tls: cfg.TLS,
		identityKey: cfg.IdentityJWT.Header + "\x00" + cfg.IdentityJWT.KeyFile,
		mtls:        fmt.Sprintf("%q %v %v %q", cfg.MTLS.ClientCAFiles, cfg.MTLS.RequireClientCert, cfg.MTLS.Interval(), cfg.MTLS.ForwardedCertHeader),
		issuers:     fmt.Sprintf("%+v", cfg.Issuers),
		bff:         fmt.Sprintf("%+v", cfg.BFF),
		authorizer:  fmt.Sprintf("%+v", cfg.Authorizer),
	}
}

// Reload swaps in a new configuration: routes, policies, headers, limits.
// An invalid one is refused (the error says why) and the running
// configuration is kept. Listeners, TLS, the issuer, the public URL, the
// DPoP algorithms and the BFF sites need a restart; a change to them is
// refused.
func (g *Gateway) Reload(cfg *config.Gateway) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	err := g.reload(cfg)
	if err != nil {
		g.metrics.reloads.WithLabelValues("refused").Inc()
		g.log.Error("gateway reload refused; keeping the running configuration", "err", err)
		return err
	}
	g.metrics.reloads.WithLabelValues("ok").Inc()
	g.log.Info("gateway configuration reloaded", "routes", len(cfg.Routes))
	return nil
}

func (g *Gateway) reload(cfg *config.Gateway) error {
	if cfg == nil {
		return fmt.Errorf("%w: no configuration", ErrConfig)
	}
	issuer := cfg.Issuer
	if g.opts.Issuer != "" {
		issuer = g.opts.Issuer
	}
	if f := fixedOf(cfg, issuer); f != g.fixed {
		return fmt.Errorf("%w: listen, admin_listen, tls, issuer, issuers, public_url, dpop_algorithms, bff, authorizer and mtls (except its header names and certificate_routes) change only with a restart", ErrConfig)
	}
	st, err := g.build(cfg)
	if err != nil {
		return err
	}
	g.state.Store(st)
	return nil
}
