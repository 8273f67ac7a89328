package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/wardauth/ward/internal/httpsafe"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/resource"
)

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
	outcome Outcome
	reason  Reason
	id      *resource.Identity
	path    string // clean path

	identityJWT, identityJWTHeader string // signed identity, when on
	exchanged                      string // the token exchanged for the upstream (exchange.go)
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
	g.presentExchanged(out, rec) // exchange.go
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

// Handler returns the proxy handler for the public listener.
func (g *Gateway) Handler() http.Handler {
	if g.opts.Middleware != nil {
		return g.opts.Middleware(g.handler())
	}
	return g.handler()
}

func (g *Gateway) handler() http.Handler {
	if a := g.authz; a != nil && a.onListener {
		// The forward-auth endpoint at its path (authorizer.go).
		return httpsafe.CloseAfterChunked(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if a.ownsPath(r) {
				g.forwardAuth(w, r)
				return
			}
			g.serve(w, r)
		}))
	}
	return httpsafe.CloseAfterChunked(http.HandlerFunc(g.serve))
}

// serve is the reverse proxy's front door: it takes the request as the
// listener received it, asks decide, and renders the refusal or proxies
// the request (docs/ARCHITECTURE.md, "one decision, many front doors").
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := g.state.Load()
	rec := &record{route: "none", outcome: outcomeUnset}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		g.metrics.observe(rec, time.Since(start))
		g.logRequest(r, rec, sw.status, time.Since(start))
		annotateSpan(r, rec, sw.status) // tracing.go
	}()
	g.secureResponse(w.Header(), r, st.cfg, false)
	g.stripForwardedCert(r)
	// An absolute-form request target names a scheme and host the client
	// chose: the URL a proof must name is the listener's (requestURL).
	r.URL.Scheme, r.URL.Host = "", ""
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		r.Body = http.MaxBytesReader(sw, r.Body, int64(st.cfg.Limits.MaxBodyBytes))
	}
	rt, f := g.decide(st, r, rec, sw.Header())
	switch {
	case f != nil:
		st.render(sw, r, rt, f)
	case rt.local != nil:
		r.URL.Path, r.URL.RawPath = rec.path, ""
		rt.local.ServeHTTP(sw, r)
	default:
		g.proxy(sw, r, rt, rec)
	}
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
	if rt.exchange != nil && !g.exchangeToken(w, r, rt, rec) { // exchange.go
		return
	}
	rt.scrub(r)                                      // headers.go: the same for both paths
	if rr, end := upstreamTrace(r, rt); end != nil { // tracing.go
		r = rr
		defer func() { end(w) }()
	}
	if rt.direct != nil && rt.exchange == nil && directRequest(r) {
		g.forward(w, r, rt, rec)
		return
	}
	rt.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, rec)))
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
	} else {
		// An upstream's 103 goes out without the modify step of
		// the final answer, on both paths.
		dropWardSetCookies(w.Header()) // headers.go
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
	g.logRefusal(r, "request rejected", e.Reason, "route", rec.route, "method", r.Method, "path", rec.path,
		"status", e.Status, "error_code", e.Code, "reason", e.Reason, "jkt", jkt, "remote", r.RemoteAddr)
}

// logRefusal logs a refusal at INFO, at most as often as g.refusals allows
// for msg and reason (a token bucket each, so a flood of one refusal
// cannot flood the log); the first line written after dropped ones says
// how many were dropped (suppressed). The metrics count every refusal.
func (g *Gateway) logRefusal(r *http.Request, msg, reason string, attrs ...any) {
	if !g.log.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	ok, dropped := g.refusals.Allow(msg + "\x00" + reason)
	if !ok {
		return
	}
	if dropped > 0 {
		attrs = append(attrs, "suppressed", dropped)
	}
	g.log.Info(msg, attrs...)
}

// logRequest logs a request at DEBUG, or at INFO as the access log
// (gateway.access_log) when the gateway let it through. The keys are
// docs/ARCHITECTURE.md's; no token, proof or cookie is ever among them.
func (g *Gateway) logRequest(r *http.Request, rec *record, status int, d time.Duration) {
	level, msg := slog.LevelDebug, "request"
	if st := g.state.Load(); st != nil && st.cfg.AccessLog && passed(rec.outcome) {
		level, msg = slog.LevelInfo, "access"
	}
	if !g.log.Enabled(r.Context(), level) {
		return // the attributes cost allocations on every request
	}
	attrs := []any{"route", rec.route, "method", r.Method, "path", rec.path, "status", status, "outcome", string(rec.outcome), "duration", d, "remote", r.RemoteAddr}
	if rec.id != nil {
		attrs = append(attrs, "client_id", rec.id.ClientID, "sub", rec.id.Subject, "jkt", rec.id.JKT)
	}
	g.log.Log(r.Context(), level, msg, attrs...)
}

// passed reports whether an outcome let the request through: what the
// access log records.
func passed(o Outcome) bool {
	return o == OutcomeAllowed || o == OutcomePublic || o == OutcomeMount
}
