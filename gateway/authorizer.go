package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/ratelimit"
)

// The forward-auth endpoint (gateway.authorizer, docs/INTEGRATIONS.md):
// a front door of the one decision (decide.go) for proxies that ask
// before they forward. nginx auth_request, Caddy forward_auth, Traefik
// ForwardAuth and Envoy's HTTP ext_authz each send the client's request
// in their own way; rebuild turns it back into the request the client
// sent, believing the proxy's headers only from a trusted peer, and the
// answer is the gateway's own: 200 with the identity headers, or the
// refusal with WWW-Authenticate, DPoP-Nonce and Retry-After.

// authorizer is the endpoint's fixed settings.
type authorizer struct {
	// onListener: served at path on the gateway's listener (no
	// gateway.authorizer.listen).
	onListener bool
	path       string
	trusted    []netip.Prefix
	// certHeader carries the client certificate a trusted proxy
	// forwards (gateway.mtls.forwarded_cert_header); "" when off.
	certHeader string
}

func (g *Gateway) setupAuthorizer(cfg *config.Gateway) {
	a := cfg.Authorizer
	if !a.Enabled() {
		return
	}
	g.authz = &authorizer{onListener: a.Listen == "", path: a.PathOrDefault(), trusted: a.TrustedProxies}
	if g.certs != nil && g.certs.proxy != nil {
		g.authz.certHeader = http.CanonicalHeaderKey(cfg.MTLS.ForwardedCertHeader)
	}
}

// AuthorizerHandler serves the forward-auth endpoint (on
// gateway.authorizer.listen, or at its path on the gateway's listener,
// which Handler does itself); nil when gateway.authorizer is off. On its
// own listener it also serves the routes' RFC 9728 protected resource
// metadata, which a proxy passes through (docs/INTEGRATIONS.md): the
// documents are public, so any peer may read them.
func (g *Gateway) AuthorizerHandler() http.Handler {
	if g.authz == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wk := g.state.Load().wellKnown(hostOf(r), r.URL.Path); wk != nil && r.Method == http.MethodGet {
			wk.local.ServeHTTP(w, r)
			return
		}
		g.forwardAuth(w, r)
	})
}

// ownsPath reports whether a request on the gateway's listener is for
// the endpoint.
func (a *authorizer) ownsPath(r *http.Request) bool {
	p := r.URL.Path
	return p == a.path || strings.HasPrefix(p, a.path+"/")
}

func (g *Gateway) forwardAuth(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	a := g.authz
	w.Header().Set("Cache-Control", "no-store")
	if !inPrefixes(r.RemoteAddr, a.trusted) {
		// Never believed: the headers name a request the peer made up.
		g.metrics.rejections.WithLabelValues(string(ReasonAuthorizerUntrustedPeer), oauth.AccessDenied).Inc()
		g.log.Warn("forward-auth call from a peer not in gateway.authorizer.trusted_proxies refused", "remote", r.RemoteAddr)
		annotateAuthorizerRefusal(r, ReasonAuthorizerUntrustedPeer, http.StatusForbidden) // tracing.go
		http.Error(w, "forbidden: not a trusted proxy", http.StatusForbidden)
		return
	}
	orig, style, err := a.rebuild(r)
	if err != nil {
		g.metrics.rejections.WithLabelValues(string(ReasonAuthorizerBadRequest), oauth.InvalidRequest).Inc()
		g.log.Warn("forward-auth call refused", "remote", r.RemoteAddr, "err", err)
		annotateAuthorizerRefusal(r, ReasonAuthorizerBadRequest, http.StatusBadRequest)
		http.Error(w, "bad forward-auth request: "+err.Error(), http.StatusBadRequest)
		return
	}
	d, rec := g.decideValue(orig)
	defer func() {
		g.metrics.observe(rec, time.Since(start))
		g.logRequest(orig, rec, d.Status, time.Since(start))
		annotateDecision(r, rec, d.Status, doorAuthorizer) // tracing.go
	}()
	writeDecision(w, d, style)
}

// writeDecision answers the proxy: 200 with the identity headers for it
// to copy upstream, or the refusal as the reverse proxy sends it.
func writeDecision(w http.ResponseWriter, d *Decision, style string) {
	h := w.Header()
	for k, v := range d.Header {
		h[k] = v
	}
	if d.Allowed {
		// Every identity header, empty when the identity has none (a
		// public route, a token without cnf.jkt): a proxy that copies
		// an absent header as its placeholder text (Caddy 2.6) or keeps
		// the client's copy gets an empty value instead.
		for _, n := range d.identityNames {
			if _, ok := h[n]; !ok {
				h[n] = []string{""}
			}
		}
		if rm := envoyRemove(d.Remove, h); style == styleEnvoy && len(rm) > 0 {
			// Envoy removes these from the request it forwards.
			h.Set("X-Envoy-Auth-Headers-To-Remove", strings.Join(rm, ","))
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if d.ContentType != "" {
		h.Set("Content-Type", d.ContentType)
	}
	w.WriteHeader(d.Status)
	_, _ = w.Write(d.Body)
}

// envoyRemove lists the names of remove, lower case, for
// x-envoy-auth-headers-to-remove, but those the answer h sets with a
// value: Envoy's ext_authz applies the removals after it sets the
// answer's headers (allowed_upstream_headers), so removing a set name
// would drop the verified identity, and the set value already replaces
// the client's. A name set empty stays removed: absent is safer than
// empty. The gRPC adapter does the same (extauthz.toRemove).
func envoyRemove(remove []string, h http.Header) []string {
	var out []string
	for _, k := range remove {
		ck := http.CanonicalHeaderKey(k)
		if v := h[ck]; len(v) > 0 && v[0] != "" {
			continue
		}
		out = append(out, strings.ToLower(k))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// The ways proxies describe the client's request.
const (
	styleOriginal  = "original"  // nginx: X-Original-Method, X-Original-URI
	styleForwarded = "forwarded" // Caddy, Traefik: X-Forwarded-Method, X-Forwarded-Uri
	styleEnvoy     = "envoy"     // Envoy HTTP ext_authz: the check's own method, path below the endpoint's
)

// describing are the headers that describe the client's request; none
// reaches the decision as a request header.
var describing = []string{"X-Original-Method", "X-Original-Uri", "X-Forwarded-Method", "X-Forwarded-Uri"}

// rebuild returns the request the client sent, from a trusted proxy's
// check request r. A call to the endpoint's path carries the method and
// URI in X-Original-* (nginx) or X-Forwarded-* (Caddy, Traefik), never
// both; a call below it (Envoy) is the client's method and path, and any
// of those headers there is the client's forgery. Scheme and host come
// from X-Forwarded-Proto and X-Forwarded-Host (Envoy: the Host), the
// client's address from X-Forwarded-For, the client certificate from the
// forwarded-certificate header.
func (a *authorizer) rebuild(r *http.Request) (*http.Request, string, error) {
	var method, uri, host, style string
	orig, fwd := present(r.Header, "X-Original-Method", "X-Original-Uri"), present(r.Header, "X-Forwarded-Method", "X-Forwarded-Uri")
	// The check's path as sent: an escaped path is not the endpoint's.
	rest, below := strings.CutPrefix(r.URL.EscapedPath(), a.path)
	switch {
	case rest == "" && below:
		// The check's query, if any, is not read: Caddy's forward_auth
		// keeps the client's on the check request.
		var err error
		switch {
		case orig && fwd:
			return nil, "", errors.New("both X-Original-* and X-Forwarded-Method/-Uri: one proxy sends one of them")
		case orig:
			style = styleOriginal
			if method, err = single(r.Header, "X-Original-Method"); err == nil {
				uri, err = single(r.Header, "X-Original-Uri")
			}
		case fwd:
			style = styleForwarded
			if method, err = single(r.Header, "X-Forwarded-Method"); err == nil {
				uri, err = single(r.Header, "X-Forwarded-Uri")
			}
		default:
			return nil, "", errors.New("no X-Original-URI or X-Forwarded-Uri: configure the proxy as docs/INTEGRATIONS.md says")
		}
		if err != nil {
			return nil, "", err
		}
		if host, err = single(r.Header, "X-Forwarded-Host"); err != nil {
			return nil, "", err
		}
	case below && strings.HasPrefix(rest, "/"):
		if orig || fwd {
			return nil, "", errors.New("X-Original-* or X-Forwarded-Method/-Uri on an ext_authz check: the client's, never believed")
		}
		uri = rest
		if r.URL.RawQuery != "" || r.URL.ForceQuery {
			uri += "?" + r.URL.RawQuery
		}
		style, method, host = styleEnvoy, r.Method, r.Host
	default:
		return nil, "", fmt.Errorf("not the endpoint's path %s", a.path)
	}
	proto, err := single(r.Header, "X-Forwarded-Proto")
	if err != nil {
		return nil, "", err
	}
	out, err := a.request(r, method, strings.ToLower(proto), host, uri)
	return out, style, err
}

// request builds the client's request from its parts, checked.
func (a *authorizer) request(r *http.Request, method, scheme, host, uri string) (*http.Request, error) {
	if !validMethod(method) {
		return nil, fmt.Errorf("method %q is not an HTTP method", method)
	}
	if scheme != "http" && scheme != "https" {
		return nil, fmt.Errorf("X-Forwarded-Proto %q is not http or https", scheme)
	}
	if !validHost(host) {
		return nil, fmt.Errorf("host %q is not a host[:port]", host)
	}
	if !strings.HasPrefix(uri, "/") {
		return nil, fmt.Errorf("URI %q is not an origin-form path", uri)
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, fmt.Errorf("URI %q: %w", uri, err)
	}
	u.Scheme, u.Host = scheme, host
	hdr := r.Header.Clone()
	for _, n := range describing {
		delete(hdr, n)
	}
	// The proxy's X-Forwarded-* go (the per-IP limit would read
	// X-Forwarded-For again). Other client-chosen addresses (Forwarded,
	// X-Real-Ip) stay: nothing in the decision reads them, and the
	// decision's Remove must name them for Envoy to delete.
	for k := range hdr {
		if hasFoldPrefix(k, forwardedPrefix) {
			delete(hdr, k)
		}
	}
	// Only the proxy's view of the client's address counts (RFC 7239 §5.2).
	ip := ratelimit.ClientIP(r, a.trusted)
	out := &http.Request{
		Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: hdr, Host: host, RequestURI: uri, Body: http.NoBody,
		RemoteAddr: netip.AddrPortFrom(ip, 0).String(),
	}
	if err := a.certificate(r, out); err != nil {
		return nil, err
	}
	return out.WithContext(r.Context()), nil
}

// certificate moves the forwarded client certificate into out.TLS,
// unverified: the gateway's ClientCertificate verifies it against the
// client CAs as it does a certificate forwarded to its own listener
// (mtls.go). The header never reaches the decision.
func (a *authorizer) certificate(r, out *http.Request) error {
	if a.certHeader == "" {
		return nil
	}
	vals := r.Header.Values(a.certHeader)
	delete(out.Header, a.certHeader)
	switch len(vals) {
	case 0:
		return nil
	case 1:
	default:
		return fmt.Errorf("%d %s headers", len(vals), a.certHeader)
	}
	cert, err := mtls.ParseForwardedCert(vals[0])
	if err != nil {
		return err
	}
	out.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, PeerCertificates: []*x509.Certificate{cert}}
	return nil
}

// present reports whether h has any of the names.
func present(h http.Header, names ...string) bool {
	for _, n := range names {
		if _, ok := h[n]; ok {
			return true
		}
	}
	return false
}

// single returns the one value of a header the proxy sets: absent,
// empty, repeated or a list is refused.
func single(h http.Header, name string) (string, error) {
	vals := h[name]
	if len(vals) != 1 || vals[0] == "" || strings.Contains(vals[0], ",") && name != "X-Original-Uri" && name != "X-Forwarded-Uri" {
		return "", fmt.Errorf("%s: exactly one value expected, got %q", name, vals)
	}
	return vals[0], nil
}

// validMethod reports whether m is an RFC 9110 §9.1 method token.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !isTchar(m[i]) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validHost reports whether h is a host with an optional port, as in a
// Host header (RFC 9110 §7.2): no userinfo, path or spaces.
func validHost(h string) bool {
	if h == "" || len(h) > 255 || strings.ContainsAny(h, "/\\@?# \t,") {
		return false
	}
	u, err := url.Parse("http://" + h)
	if err != nil || u.Host != h || u.User != nil {
		return false
	}
	if _, port, err := net.SplitHostPort(h); err == nil && port == "" {
		return false
	}
	return true
}

// inPrefixes reports whether the address (host:port or host) is in one
// of the prefixes.
func inPrefixes(remote string, prefixes []netip.Prefix) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
