package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/httpsafe"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/policy"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/revocation"
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
	// Upstreams maps builtin: upstream names to handlers; builtin:demo is
	// DemoUpstream() unless given.
	Upstreams map[string]http.Handler
	// RateLimitStore keeps the rate_limits state; default in memory
	// (ratelimit.go). Instances behind a load balancer need a shared one.
	RateLimitStore ratelimit.Store
	// reverseProxyOnly turns the direct path (forward.go) off, so tests
	// can compare it with httputil.ReverseProxy.
	reverseProxyOnly bool
	// Revocations, when set, refuses access tokens the issuer revoked
	// (revocation.Follower keeps it current; gateway/revocations.go).
	Revocations *revocation.Set
	// Mounts are handlers the gateway serves itself, such as the
	// backend-for-frontend sites (package bff), under its security
	// headers, size limits, path cleaning, per-IP rate limits and
	// metrics. They authenticate requests themselves.
	Mounts []Mount
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
	keys     resource.KeySource
	state    atomic.Pointer[state]
	ready    atomic.Bool
	mu       sync.Mutex // serialises Reload
	fixed    fixedSettings
	identity *identitySigner // nil when identity_jwt is off
	rl       *rateLimiting   // ratelimit.go
	certs    *clientCerts    // mtls.go
	secVals  atomic.Pointer[secValues]
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
}

// state is one immutable configuration generation.
type state struct {
	cfg      *config.Gateway
	rs       *resource.Resource
	routes   []*route
	metadata metadataDocs // RFC 9728 documents (metadata.go)
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
}

// ErrConfig wraps every configuration refused by New or Reload.
var ErrConfig = errors.New("gateway: invalid configuration")

// New builds a gateway from a validated configuration section.
func New(cfg *config.Gateway, opts Options) (*Gateway, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: no configuration", ErrConfig)
	}
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
	issuer := cfg.Issuer
	if opts.Issuer != "" {
		issuer = opts.Issuer
	}
	if issuer == "" {
		return nil, fmt.Errorf("%w: no issuer", ErrConfig)
	}
	g := &Gateway{opts: opts, log: opts.Logger, clock: opts.Clock}
	g.fixed = fixedOf(cfg, issuer)
	// The identity JWT names the gateway, never the authorization server,
	// so it cannot pass for an access token.
	idSigner, err := newIdentitySigner(cfg.IdentityJWT, audienceOr(cfg.PublicURL, "urn:ward:gateway"))
	if err != nil {
		return nil, err
	}
	g.identity = idSigner
	dopts := []dpop.Option{
		dpop.WithAllowedAlgorithms(cfg.DPoPAlgorithms...),
		dpop.WithClock(opts.Clock),
		dpop.WithIATWindow(opts.ProofMaxAge, opts.ProofLeeway),
	}
	switch {
	case cfg.PublicURL != "":
		dopts = append(dopts, dpop.WithBaseURL(cfg.PublicURL))
	case cfg.BehindTLSProxy.Enabled():
		dopts = append(dopts, dpop.WithTrustedProxies(cfg.BehindTLSProxy.TrustedProxies...))
	}
	if opts.ReplayStore != nil {
		dopts = append(dopts, dpop.WithReplayStore(opts.ReplayStore))
	}
	if opts.Nonces != nil {
		dopts = append(dopts, dpop.WithNonces(opts.Nonces))
	}
	v, err := dpop.NewVerifier(dopts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	g.verifier = v
	g.keys = opts.Keys
	if g.keys == nil {
		g.keys = resource.NewRemoteKeys(issuer, resource.RemoteKeysOptions{Client: opts.HTTPClient, Clock: opts.Clock})
	}
	g.metrics = newMetrics(opts.Registry)
	g.registerRevocationMetrics(opts.Registry)
	g.rl = newRateLimiting(opts.RateLimitStore, opts.Clock, opts.Registry)
	if err := g.setupClientCerts(cfg); err != nil {
		return nil, err
	}
	st, err := g.build(cfg)
	if err != nil {
		return nil, err
	}
	g.state.Store(st)
	g.ready.Store(true)
	return g, nil
}

func fixedOf(cfg *config.Gateway, issuer string) fixedSettings {
	return fixedSettings{
		issuer: issuer, publicURL: cfg.PublicURL, listen: cfg.Listen, admin: cfg.AdminListen,
		dpopAlgs: strings.Join(cfg.DPoPAlgorithms, " "), tls: cfg.TLS,
		identityKey: cfg.IdentityJWT.Header + "\x00" + cfg.IdentityJWT.KeyFile,
		mtls:        fmt.Sprintf("%q %v %v %q", cfg.MTLS.ClientCAFiles, cfg.MTLS.RequireClientCert, cfg.MTLS.Interval(), cfg.MTLS.ForwardedCertHeader),
		bff:         fmt.Sprintf("%+v", cfg.BFF),
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
		g.log.Error("gateway reload refused; keeping the running configuration", "error", err)
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
		return fmt.Errorf("%w: listen, admin_listen, tls, issuer, public_url, dpop_algorithms, bff and mtls (except its header names and certificate_routes) change only with a restart", ErrConfig)
	}
	st, err := g.build(cfg)
	if err != nil {
		return err
	}
	g.state.Store(st)
	return nil
}

// build compiles a configuration generation.
func (g *Gateway) build(cfg *config.Gateway) (*state, error) {
	var errs []error
	rs, err := resource.New(resource.Config{
		Issuer: g.fixed.issuer, Audience: audienceOr(cfg.Audience, cfg.PublicURL, "urn:ward:gateway"),
		DPoP: g.verifier, Keys: g.keys, Introspector: g.opts.Introspector,
		Algorithms: cfg.TokenAlgorithms, Leeway: cfg.Leeway, Clock: g.clock, HTTPClient: g.opts.HTTPClient,
		ClientCertificate: g.ClientCertificate, // resource_metadata: per route (metadata.go)
		Revocations:       g.revocationList(),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	st := &state{cfg: cfg, rs: rs}
	if len(cfg.Routes) == 0 {
		errs = append(errs, errors.New("no routes"))
	}
	names := map[string]bool{}
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		if names[rc.Name] || rc.Name == "" {
			errs = append(errs, fmt.Errorf("route %d: missing or duplicate name %q", i, rc.Name))
		}
		names[rc.Name] = true
		rt, err := g.buildRoute(cfg, rc)
		if err != nil {
			errs = append(errs, fmt.Errorf("route %q: %w", rc.Name, err))
			continue
		}
		st.routes = append(st.routes, rt)
	}
	for _, m := range g.opts.Mounts {
		rt, err := g.buildMount(cfg, m)
		if names[m.Name] {
			err = errors.New("its name is also a route's")
		}
		names[m.Name] = true
		if err != nil {
			errs = append(errs, fmt.Errorf("mount %q: %w", m.Name, err))
			continue
		}
		st.routes = append(st.routes, rt)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	st.metadata = g.buildMetadata(cfg, st.routes)
	// Longest prefix first, host-specific before any-host.
	sort.SliceStable(st.routes, func(i, j int) bool {
		a, b := st.routes[i], st.routes[j]
		if (a.host != "") != (b.host != "") {
			return a.host != ""
		}
		return len(a.prefix) > len(b.prefix)
	})
	return st, nil
}

func audienceOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func (g *Gateway) buildRoute(cfg *config.Gateway, rc *config.Route) (*route, error) {
	rt := &route{cfg: rc, host: strings.ToLower(rc.Host), prefix: strings.TrimSuffix(rc.PathPrefix, "/"), upstream: rc.Upstream, ih: cfg.IdentityHeaders}
	ih := cfg.IdentityHeaders
	rt.certOnly = cfg.MTLS.CertificateRoute(rc.Name)
	rt.spiffeHdr = http.CanonicalHeaderKey(cfg.MTLS.SPIFFEIDHeaderName())
	rt.thumbHdr = http.CanonicalHeaderKey(cfg.MTLS.ThumbprintHeaderName())
	// The forwarded certificate never reaches an upstream, even from a
	// trusted proxy.
	for _, h := range []string{ih.Subject, ih.Client, ih.Scopes, ih.JKT, cfg.IdentityJWT.Header, rt.spiffeHdr, rt.thumbHdr, cfg.MTLS.ForwardedCertHeader} {
		if h != "" {
			rt.strip = append(rt.strip, http.CanonicalHeaderKey(h))
		}
	}
	rt.ih = config.IdentityHeaders{
		Subject: http.CanonicalHeaderKey(ih.Subject), Client: http.CanonicalHeaderKey(ih.Client),
		Scopes: http.CanonicalHeaderKey(ih.Scopes), JKT: http.CanonicalHeaderKey(ih.JKT),
	}
	if !rc.ForwardAuthorization {
		rt.strip = append(rt.strip, "Authorization", "Dpop")
	}
	var err error
	if rt.limits, err = g.rl.buildLimits(cfg, rc); err != nil {
		return nil, err
	}
	if rc.PathPrefix != "" && rc.PathPrefix != "/" {
		if c, err := policy.CleanPath(rc.PathPrefix); err != nil || c != rc.PathPrefix {
			return nil, fmt.Errorf("path_prefix %q is not a clean path", rc.PathPrefix)
		}
	}
	if !rc.Unauthenticated {
		rules := make([]policy.Rule, len(rc.Policy))
		for i, r := range rc.Policy {
			rules[i] = r.Rule()
		}
		p, err := policy.New(rules)
		if err != nil {
			return nil, err
		}
		rt.policy = p
		rt.req = resource.Requirement{Scopes: rc.Scopes, Audience: cfg.RouteAudience(rc), AllowBearer: rc.AllowBearer}
	} else if len(rc.Policy) > 0 || len(rc.Scopes) > 0 {
		return nil, errors.New("an unauthenticated route cannot have a policy or scopes")
	}
	var target *url.URL
	var handler http.Handler
	if name, ok := strings.CutPrefix(rc.Upstream, "builtin:"); ok {
		handler = g.opts.Upstreams[rc.Upstream]
		if handler == nil && name == "demo" {
			handler = DemoUpstream()
		}
		if handler == nil && name == "demo-app" {
			handler = DemoApp()
		}
		if handler == nil {
			return nil, fmt.Errorf("unknown built-in upstream %q", rc.Upstream)
		}
		target = &url.URL{Scheme: "http", Host: "builtin." + name}
	} else {
		u, err := url.Parse(rc.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("upstream %q is not an http(s) URL", rc.Upstream)
		}
		target = u
	}
	transport := g.opts.Transport
	if handler != nil {
		transport = handlerTransport{handler}
	} else if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = cfg.Timeouts.Upstream
		t.MaxIdleConnsPerHost = 64
		// A proxy passes the client's Accept-Encoding on as it is; it
		// does not ask for gzip itself only to decompress it again.
		t.DisableCompression = true
		transport = t
		if target.Scheme == "http" && syncUpstream {
			ut := newUpstreamTransport(target.Host, t) // upstream.go
			transport = ut
			if !g.opts.reverseProxyOnly && directNames(rt.ih, rt.spiffeHdr, rt.thumbHdr, http.CanonicalHeaderKey(cfg.IdentityJWT.Header)) {
				rt.direct = newDirect(ut, target, rt.strip) // forward.go
			}
		}
	}
	rt.modify = func(h http.Header, r *http.Request) { g.secureResponse(h, r, cfg, !rc.Unauthenticated) }
	rt.failed = func(w http.ResponseWriter, r *http.Request, rec *record, err error) {
		g.secureResponse(w.Header(), r, cfg, !rc.Unauthenticated)
		// A chunked body that outgrew max_body_bytes while it was
		// streamed: the upstream got a body cut short without its last
		// chunk (an incomplete request, never a complete one), and the
		// client is told why.
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			if rec != nil {
				rec.outcome, rec.reason = "rejected", "body_too_large"
			}
			w.Header().Set("Connection", "close")
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if rec != nil {
			rec.outcome = "upstream_error"
		}
		g.log.Warn("upstream error", "route", rc.Name, "upstream", rt.upstream, "error", err)
		status := http.StatusBadGateway
		if errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusGatewayTimeout
		}
		http.Error(w, http.StatusText(status), status)
	}
	rt.proxy = &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { g.rewrite(pr, rt, target) },
		Transport:  transport,
		BufferPool: copyBuffers,
		ModifyResponse: func(resp *http.Response) error {
			rt.modify(resp.Header, resp.Request)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { rt.failed(w, r, recordOf(r), err) },
	}
	return rt, nil
}

// buildMount makes a route of a Mount: matched like a route, limited by
// the gateway-wide per-IP tier, served by the handler.
func (g *Gateway) buildMount(cfg *config.Gateway, m Mount) (*route, error) {
	if m.Handler == nil || m.Name == "" {
		return nil, errors.New("a mount needs a name and a handler")
	}
	if c, err := policy.CleanPath(m.PathPrefix); err != nil || c != m.PathPrefix || m.PathPrefix == "/" {
		return nil, fmt.Errorf("path_prefix %q is not a clean path below /", m.PathPrefix)
	}
	rc := &config.Route{Name: m.Name, Host: m.Host, PathPrefix: m.PathPrefix, Unauthenticated: true}
	rt := &route{cfg: rc, host: strings.ToLower(m.Host), prefix: strings.TrimSuffix(m.PathPrefix, "/"), upstream: "mount:" + m.Name, local: m.Handler}
	var err error
	if rt.limits, err = g.rl.buildLimits(cfg, rc); err != nil {
		return nil, err
	}
	return rt, nil
}

// handlerTransport serves a built-in upstream in process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	resp := w.Result()
	resp.Request = r
	return resp, nil
}

// ctxKey carries the per-request record through the proxy.
type ctxKey struct{}

type record struct {
	route   string
	outcome string
	reason  string
	id      *resource.Identity
	path    string // clean path

	identityJWT, identityJWTHeader string // signed identity, when on
}

func recordOf(r *http.Request) *record {
	rec, _ := r.Context().Value(ctxKey{}).(*record)
	return rec
}

// rewrite builds the upstream request: clean path, forged identity
// headers removed, the verified identity added, credentials dropped.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest, rt *route, target *url.URL) {
	rec := recordOf(pr.In)
	out := pr.Out
	// Header names canonical since buildRoute (net/http canonicalises
	// incoming names), so a map delete is Header.Del without the work.
	for _, h := range rt.strip {
		delete(out.Header, h)
	}
	p := rec.path
	if rt.cfg.StripPrefix && rt.prefix != "" {
		p = strings.TrimPrefix(p, rt.prefix)
		if p == "" {
			p = "/"
		}
	}
	pr.SetURL(target)
	// Forward the path the policy matched, re-encoded, joined to the
	// upstream's base path.
	u := &url.URL{Path: strings.TrimSuffix(target.Path, "/") + p}
	out.URL.Path, out.URL.RawPath = u.Path, ""
	out.URL.RawPath = u.EscapedPath()
	if out.URL.RawPath == out.URL.Path {
		out.URL.RawPath = ""
	}
	pr.SetXForwarded()
	rt.identity(rec, func(name, v string) { out.Header[name] = []string{v} })
}

// identity gives the verified identity's upstream headers to set, each
// name once (the names are canonical and stripped from the client's
// request); both upstream paths send what it gives.
func (rt *route) identity(rec *record, set func(name, value string)) {
	id := rec.id
	if id == nil {
		return
	}
	ih := rt.ih
	one := func(name, v string) {
		if v != "" && name != "" {
			set(name, sanitize(v))
		}
	}
	one(ih.Subject, id.Subject)
	one(ih.Client, id.ClientID)
	one(ih.Scopes, strings.Join(id.Scopes, " "))
	one(ih.JKT, id.JKT)
	one(rt.spiffeHdr, id.SPIFFEID)
	one(rt.thumbHdr, id.CertThumbprint)
	if rec.identityJWT != "" {
		set(rec.identityJWTHeader, rec.identityJWT)
	}
}

// copyBuffers lends the proxies their response-copy buffers, instead of
// a new 32 KiB buffer for every request.
var copyBuffers = &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte  { return *b.p.Get().(*[]byte) }
func (b *bufferPool) Put(x []byte) { b.p.Put(&x) }

var _ httputil.BufferPool = (*bufferPool)(nil)

// sanitize keeps a header value on one line.
func sanitize(v string) string {
	if !needsSanitize(v) {
		return v
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
}

// Handler returns the proxy handler for the public listener.
func (g *Gateway) Handler() http.Handler {
	return httpsafe.CloseAfterChunked(http.HandlerFunc(g.serve))
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := g.state.Load()
	rec := &record{route: "none", outcome: "ok"}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		g.metrics.observe(rec, time.Since(start))
		g.logRequest(r, rec, sw.status, time.Since(start))
	}()
	g.secureResponse(w.Header(), r, st.cfg, false)
	g.stripForwardedCert(r)
	if r.ContentLength > int64(st.cfg.Limits.MaxBodyBytes) {
		rec.outcome, rec.reason = "rejected", "body_too_large"
		http.Error(sw, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		r.Body = http.MaxBytesReader(sw, r.Body, int64(st.cfg.Limits.MaxBodyBytes))
	}
	clean, err := policy.CleanPath(r.URL.EscapedPath())
	if err != nil {
		rec.outcome, rec.reason = "rejected", "ambiguous_path"
		http.Error(sw, "ambiguous request path", http.StatusBadRequest)
		return
	}
	rec.path = clean
	if g.serveMetadata(sw, r, st, clean, rec) { // RFC 9728 (metadata.go)
		return
	}
	rt := st.match(hostOf(r), clean)
	if rt == nil {
		rec.outcome = "no_route"
		http.NotFound(sw, r)
		return
	}
	rec.route = rt.cfg.Name
	if !g.limit(sw, r, rt, rec, nil) { // per-IP tier, before authentication
		return
	}
	if rt.local != nil {
		rec.outcome = "mount"
		r.URL.Path, r.URL.RawPath = clean, ""
		rt.local.ServeHTTP(sw, r)
		return
	}
	if rt.cfg.Unauthenticated {
		rec.outcome = "public"
		g.proxy(sw, r, rt, rec)
		return
	}
	sw.Header()["Cache-Control"] = g.securityValues(st.cfg).noStore
	var id *resource.Identity
	if rt.certOnly {
		var e *oauth.Error
		if id, e = g.certificateOnly(r); e != nil {
			err = e
		}
	} else {
		id, err = st.rs.Authenticate(r, rt.req)
	}
	if err != nil {
		e := oauth.As(err)
		rec.outcome, rec.reason = "rejected", e.Reason
		g.metrics.rejections.WithLabelValues(e.Reason, e.Code).Inc()
		g.logRejection(r, rec, e, resource.Thumbprint(err))
		st.rs.WriteError(sw, r, err, rt.req)
		return
	}
	rec.id = id
	if !g.limit(sw, r, rt, rec, id) { // per-client_id and per-subject tiers
		return
	}
	d := rt.policy.Evaluate(policy.Request{
		Principals: principals(id),
		Method:     r.Method, Path: clean, Scopes: id.Scopes,
	})
	if !d.Allowed {
		rec.outcome, rec.reason = "denied", "policy_"+d.Reason
		var e *oauth.Error
		if d.Reason == "insufficient_scope" {
			e = &oauth.Error{Code: oauth.InsufficientScope, Status: http.StatusForbidden, Reason: rec.reason,
				Description: "the access token lacks a scope this route requires", Scope: strings.Join(d.MissingScopes, " ")}
		} else {
			e = &oauth.Error{Code: oauth.AccessDenied, Status: http.StatusForbidden, Reason: rec.reason,
				Description: "the route's policy does not allow this request"}
		}
		g.metrics.rejections.WithLabelValues(e.Reason, e.Code).Inc()
		g.log.Info("request denied by policy", "route", rec.route, "method", r.Method, "path", clean, "rule", d.Rule,
			"reason", e.Reason, "policy_reason", d.Reason, "client_id", id.ClientID, "sub", id.Subject, "jkt", id.JKT, "spiffe_id", id.SPIFFEID)
		st.rs.WriteError(sw, r, e, rt.req)
		return
	}
	if g.identity != nil {
		// Signed before proxying: a request whose identity cannot be
		// signed is refused, never forwarded without it.
		tok, err := g.identity.sign(id, rt, st.cfg.IdentityJWT.TTL, g.clock())
		if err != nil {
			rec.outcome = "error"
			g.log.Error("cannot sign the identity JWT", "route", rec.route, "err", err)
			http.Error(sw, "internal error", http.StatusInternalServerError)
			return
		}
		rec.identityJWT, rec.identityJWTHeader = tok, http.CanonicalHeaderKey(st.cfg.IdentityJWT.Header)
	}
	rec.outcome = "allowed"
	g.proxy(sw, r, rt, rec)
}

// securityHeaders are the response headers secureResponse sets.
var securityHeaders = [...]string{"X-Content-Type-Options", "Referrer-Policy", "Strict-Transport-Security", "Content-Security-Policy", "Cache-Control"}

// proxy hands the request to the route's direct path (forward.go) or its
// reverse proxy. The security headers set on the gateway's own response
// are dropped first: the proxy adds the upstream's headers to them, and
// modify (or failed) sets them again, so each is sent once.
func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request, rt *route, rec *record) {
	h := w.Header()
	for _, k := range securityHeaders {
		delete(h, k)
	}
	if sw, ok := w.(*statusWriter); ok {
		sw.untyped = true
	}
	if rt.direct != nil && directRequest(r) {
		g.forward(w, r, rt, rec)
		return
	}
	rt.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, rec)))
}

// directNames reports whether the identity header names can take the
// direct path, which writes each one once: they must differ from each
// other and from the headers it writes itself or never forwards.
func directNames(ih config.IdentityHeaders, more ...string) bool {
	seen := map[string]bool{}
	for _, n := range append([]string{ih.Subject, ih.Client, ih.Scopes, ih.JKT}, more...) {
		if n == "" {
			continue
		}
		if seen[n] || directExcluded[n] {
			return false
		}
		seen[n] = true
	}
	return true
}

func hostOf(r *http.Request) string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

func (st *state) match(host, path string) *route {
	for _, rt := range st.routes {
		if rt.host != "" && rt.host != host {
			continue
		}
		if rt.prefix == "" || path == rt.prefix || strings.HasPrefix(path, rt.prefix+"/") {
			return rt
		}
	}
	return nil
}

// secureResponse sets the security headers on a response (the gateway's
// own, or the upstream's in ModifyResponse).
func (g *Gateway) secureResponse(h http.Header, r *http.Request, cfg *config.Gateway, authenticated bool) {
	sh := cfg.SecurityHeaders
	sv := g.securityValues(cfg)
	// Shared, read-only values (net/http only reads them; capacity 1, so
	// an Add copies), not a new slice per header per response.
	h["X-Content-Type-Options"] = sv.nosniff
	if sh.ReferrerPolicy != "off" && h.Get("Referrer-Policy") == "" {
		h["Referrer-Policy"] = sv.referrer
	}
	if sh.HSTS != "off" && (cfg.TLS.Enabled() || strings.HasPrefix(cfg.PublicURL, "https://") || r != nil && r.TLS != nil) {
		h["Strict-Transport-Security"] = sv.hsts
	}
	if ct := h.Get("Content-Type"); sh.CSP != "off" && strings.HasPrefix(strings.ToLower(ct), "text/html") && h.Get("Content-Security-Policy") == "" {
		h["Content-Security-Policy"] = sv.csp
	}
	if authenticated {
		h["Cache-Control"] = sv.noStore
	}
}

// secValues are the security header values of one configuration.
type secValues struct {
	cfg                                   *config.Gateway
	nosniff, referrer, hsts, csp, noStore []string
}

// securityValues returns cfg's header values, made once per configuration
// generation.
func (g *Gateway) securityValues(cfg *config.Gateway) *secValues {
	if sv := g.secVals.Load(); sv != nil && sv.cfg == cfg {
		return sv
	}
	one := func(v string) []string { return []string{v}[:1:1] }
	sh := cfg.SecurityHeaders
	sv := &secValues{cfg: cfg, nosniff: one("nosniff"), referrer: one(sh.ReferrerPolicy), hsts: one(sh.HSTS), csp: one(sh.CSP), noStore: one("no-store")}
	g.secVals.Store(sv)
	return sv
}

type statusWriter struct {
	http.ResponseWriter
	status int
	// untyped keeps an answer without a Content-Type without one: net/http
	// would otherwise guess one from the body (DetectContentType), and an
	// upstream's untyped answer could go out as text/html without the
	// Content-Security-Policy that secureResponse gives HTML.
	untyped bool
}

func (w *statusWriter) WriteHeader(code int) {
	if code >= 200 { // not an informational answer
		w.final(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.final(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) final(code int) {
	if w.status == 0 {
		w.status = code
	}
	if w.untyped {
		if h := w.Header(); h["Content-Type"] == nil {
			// A nil value: no header, and no sniffing.
			h["Content-Type"] = nil
		}
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (g *Gateway) logRejection(r *http.Request, rec *record, e *oauth.Error, jkt string) {
	g.log.Info("request rejected", "route", rec.route, "method", r.Method, "path", rec.path,
		"status", e.Status, "error", e.Code, "reason", e.Reason, "jkt", jkt, "remote", r.RemoteAddr)
}

func (g *Gateway) logRequest(r *http.Request, rec *record, status int, d time.Duration) {
	if !g.log.Enabled(r.Context(), slog.LevelDebug) {
		return // the attributes cost allocations on every request
	}
	attrs := []any{"route", rec.route, "method", r.Method, "path", rec.path, "status", status, "outcome", rec.outcome, "duration", d}
	if rec.id != nil {
		attrs = append(attrs, "client_id", rec.id.ClientID, "sub", rec.id.Subject, "jkt", rec.id.JKT)
	}
	g.log.Debug("request", attrs...)
}

// needsSanitize reports whether sanitize would change v: a control
// character, or bytes that are not UTF-8 (which strings.Map replaces).
func needsSanitize(v string) bool {
	if !utf8.ValidString(v) {
		return true
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return true
		}
	}
	return false
}
