package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/policy"
	"github.com/wardauth/ward/resource"
)

// build compiles a configuration generation.
func (g *Gateway) build(cfg *config.Gateway) (*state, error) {
	var errs []error
	rs, err := resource.New(resource.Config{
		Issuers: g.registry(cfg), Logger: g.log, Audience: audienceOr(cfg.Audience, cfg.PublicURL, "urn:ward:gateway"),
		DPoP: g.verifier, Leeway: cfg.Leeway, Clock: g.clock, HTTPClient: g.opts.HTTPClient,
		ClientCertificate: g.ClientCertificate, // resource_metadata: per route (metadata.go)
		Revocations:       g.revocationList(),
		RevocationsIssuer: g.fixed.issuer, // the feed is Ward's own issuer's
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
	st.hosts = knownHosts(cfg.PublicURL, st.routes)
	st.publicHost, st.publicPort = publicOrigin(cfg.PublicURL)
	st.metadata = g.buildMetadata(cfg, st.routes)
	st.metadata.addHosts(st.hosts)
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

// buildRoute compiles a route in named steps: identity headers, limits,
// path prefix, policy and requirement, upstream, transport, answer hooks
// and proxy.
func (g *Gateway) buildRoute(cfg *config.Gateway, rc *config.Route) (*route, error) {
	rt := &route{cfg: rc, host: normalHost(rc.Host), prefix: strings.TrimSuffix(rc.PathPrefix, "/"), upstream: rc.Upstream}
	rt.identityHeaders(cfg)
	var err error
	if rt.limits, err = g.rl.buildLimits(cfg, rc); err != nil {
		return nil, err
	}
	if rc.PathPrefix != "" && rc.PathPrefix != "/" {
		if c, err := policy.CleanPath(rc.PathPrefix); err != nil || c != rc.PathPrefix {
			return nil, fmt.Errorf("path_prefix %q is not a clean path", rc.PathPrefix)
		}
	}
	if err := rt.buildPolicy(cfg); err != nil {
		return nil, err
	}
	if err := g.buildExchange(rt); err != nil { // exchange.go
		return nil, err
	}
	target, handler, err := g.upstreamOf(rc)
	if err != nil {
		return nil, err
	}
	transport := g.transportFor(cfg, rt, target, handler)
	g.answerHooks(cfg, rt)
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

// identityHeaders sets the identity header names the route writes
// (canonical), the headers it strips from every request and the names a
// client may not send (headers.go).
func (rt *route) identityHeaders(cfg *config.Gateway) {
	ih := cfg.IdentityHeaders
	rt.certOnly = cfg.MTLS.CertificateRoute(rt.cfg.Name)
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
	if !rt.cfg.ForwardAuthorization {
		rt.strip = append(rt.strip, "Authorization", "Dpop")
	}
	rt.reserved = reservedNames(rt.strip)
	for _, h := range []string{rt.ih.Subject, rt.ih.Client, rt.ih.Scopes, rt.ih.JKT, rt.spiffeHdr, rt.thumbHdr, cfg.IdentityJWT.Header} {
		if h != "" {
			rt.idNames = append(rt.idNames, http.CanonicalHeaderKey(h))
		}
	}
}

// buildPolicy compiles the route's policy and its token requirement;
// an unauthenticated route has neither.
func (rt *route) buildPolicy(cfg *config.Gateway) error {
	rc := rt.cfg
	if rc.Unauthenticated {
		if len(rc.Policy) > 0 || len(rc.Scopes) > 0 {
			return errors.New("an unauthenticated route cannot have a policy or scopes")
		}
		return nil
	}
	rules := make([]policy.Rule, len(rc.Policy))
	for i, r := range rc.Policy {
		rules[i] = cfg.PolicyRule(r) // issuer names resolved
	}
	p, err := policy.New(rules)
	if err != nil {
		return err
	}
	rt.policy = p
	// The route's own audience only: without one, the issuer's
	// (gateway.issuers[].audience), else gateway.audience or public_url
	// (Config.Audience in build) applies.
	rt.req = resource.Requirement{Scopes: rc.Scopes, Audience: rc.Audience, AllowBearer: rc.AllowBearer, Issuers: rc.Issuers}
	return nil
}

// upstreamOf resolves the route's upstream: an http(s) URL, or a
// builtin: name the caller gave a handler for (Options.Upstreams).
func (g *Gateway) upstreamOf(rc *config.Route) (*url.URL, http.Handler, error) {
	if name, ok := strings.CutPrefix(rc.Upstream, "builtin:"); ok {
		handler := g.opts.Upstreams[rc.Upstream]
		if handler == nil {
			return nil, nil, fmt.Errorf("unknown built-in upstream %q", rc.Upstream)
		}
		return &url.URL{Scheme: "http", Host: "builtin." + name}, handler, nil
	}
	u, err := url.Parse(rc.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("upstream %q is not an http(s) URL", rc.Upstream)
	}
	return u, nil, nil
}

// transportFor is how the route reaches its upstream: the in-process
// handler, Options.Transport, or its own pooled transport; a plain-http
// upstream also gets the direct path (forward.go) when its identity
// header names allow it.
func (g *Gateway) transportFor(cfg *config.Gateway, rt *route, target *url.URL, handler http.Handler) http.RoundTripper {
	if handler != nil {
		return handlerTransport{handler}
	}
	if g.opts.Transport != nil {
		return g.opts.Transport
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = cfg.Timeouts.Upstream
	t.MaxIdleConnsPerHost = 64
	// A proxy passes the client's Accept-Encoding on as it is; it does
	// not ask for gzip itself only to decompress it again.
	t.DisableCompression = true
	if target.Scheme != "http" || !syncUpstream {
		return t
	}
	ut := newUpstreamTransport(target.Host, t) // upstream.go
	if !g.opts.reverseProxyOnly && directNames(rt.ih, rt.spiffeHdr, rt.thumbHdr, http.CanonicalHeaderKey(cfg.IdentityJWT.Header)) {
		rt.direct = newDirect(ut, target, rt.strip) // forward.go
	}
	return ut
}

// answerHooks sets the hooks both paths share: modify on every upstream
// answer, failed when the upstream could not answer.
func (g *Gateway) answerHooks(cfg *config.Gateway, rt *route) {
	rc := rt.cfg
	rt.modify = func(h http.Header, r *http.Request) {
		dropWardSetCookies(h) // headers.go
		h.Del(NoRouteHeader)  // only the gateway's own 404 carries it
		g.secureResponse(h, r, cfg, !rc.Unauthenticated)
	}
	rt.failed = func(w http.ResponseWriter, r *http.Request, rec *record, err error) {
		g.secureResponse(w.Header(), r, cfg, !rc.Unauthenticated)
		g.upstreamFailed(w, rt, rec, err)
	}
}

// upstreamFailed answers a request whose upstream failed: 413 for a
// body that outgrew max_body_bytes while streamed, 504 for a timeout,
// else 502.
func (g *Gateway) upstreamFailed(w http.ResponseWriter, rt *route, rec *record, err error) {
	// A chunked body that outgrew max_body_bytes while it was streamed:
	// the upstream got a body cut short without its last chunk (an
	// incomplete request, never a complete one), and the client is told
	// why.
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		if rec != nil {
			rec.outcome, rec.reason = OutcomeRejected, ReasonBodyTooLarge
		}
		w.Header().Set("Connection", "close")
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if rec != nil {
		rec.outcome = OutcomeUpstreamError
	}
	g.log.Warn("upstream error", "route", rt.cfg.Name, "upstream", rt.upstream, "err", err)
	status := http.StatusBadGateway
	if errors.Is(err, context.DeadlineExceeded) {
		status = http.StatusGatewayTimeout
	}
	http.Error(w, http.StatusText(status), status)
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
	rt := &route{cfg: rc, host: normalHost(m.Host), prefix: strings.TrimSuffix(m.PathPrefix, "/"), upstream: "mount:" + m.Name, local: m.Handler}
	var err error
	if rt.limits, err = g.rl.buildLimits(cfg, rc); err != nil {
		return nil, err
	}
	return rt, nil
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

// target reads the request's host and path as routes are matched
// against them, or gives the reason and message of a 400: a host the
// gateway does not serve, an ambiguous path, a path that is not UTF-8.
func (st *state) target(r *http.Request) (host, clean string, reason Reason, refusal string) {
	host = hostOf(r)
	if st.hosts != nil && !st.hosts[host] || !st.publicPortOK(r.Host, host) {
		return "", "", ReasonUnknownHost, "unknown host: the Host header names no site of this gateway"
	}
	clean, err := policy.CleanPath(r.URL.EscapedPath())
	if err != nil {
		return "", "", ReasonAmbiguousPath, "ambiguous request path"
	}
	// RFC 3629 §3: bytes that are not UTF-8 (overlong %c0%ae for '.',
	// %ff) are read differently by different decoders.
	if !utf8.ValidString(clean) {
		return "", "", ReasonPathNotUTF8, "request path is not UTF-8"
	}
	return host, clean, "", ""
}

func hostOf(r *http.Request) string { return normalHost(r.Host) }

// publicPortOK reports whether a Host that names public_url's host names
// its port too, when it names one. A front door that rebuilds the
// client's request takes a DPoP proof's htu from the Host the proxy
// passes on (RFC 9449 §4.3 (9)): gw.example:8443 is another origin, and
// a proof made for it must not be accepted at gw.example.
func (st *state) publicPortOK(rawHost, host string) bool {
	if st.publicPort == "" || host != st.publicHost {
		return true
	}
	_, port, err := net.SplitHostPort(rawHost)
	return err != nil || port == st.publicPort
}

// publicOrigin returns public_url's host (normalHost) and port, the
// scheme's when it names none; "", "" when it is not set.
func publicOrigin(publicURL string) (host, port string) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" {
		return "", ""
	}
	port = u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	return normalHost(u.Host), port
}

// normalHost is a host without port, brackets, trailing dot, in lower
// case.
func normalHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// knownHosts returns the hosts the gateway answers for (state.hosts):
// public_url's and every route's and mount's, or nil when none is set
// (dev configurations without public_url, or behind a TLS proxy that
// checks the host; docs/GATEWAY.md).
func knownHosts(publicURL string, routes []*route) map[string]bool {
	hosts := map[string]bool{}
	if u, err := url.Parse(publicURL); err == nil && u.Host != "" {
		hosts[normalHost(u.Host)] = true
	}
	for _, rt := range routes {
		if rt.host != "" {
			hosts[normalHost(rt.host)] = true
		}
	}
	if len(hosts) == 0 {
		return nil
	}
	for h := range hosts {
		if loopbackNames[h] {
			// A loopback site (ward serve --dev) answers to each literal
			// loopback name, so a browser may open localhost or
			// 127.0.0.1 alike. Only these literals: a DNS name that
			// resolves to 127.0.0.1 (DNS rebinding) is still refused.
			for n := range loopbackNames {
				hosts[n] = true
			}
			break
		}
	}
	return hosts
}

// loopbackNames are the literal names of the loopback host.
var loopbackNames = map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}

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
