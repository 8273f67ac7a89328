package gateway

import (
	"bytes"
	"net/http"
	"slices"
	"strings"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/policy"
	"github.com/wardauth/ward/resource"
)

// One decision, many front doors (docs/ARCHITECTURE.md): decide runs every
// check of the gateway on a request and knows nothing of the transport
// that asked. The reverse proxy (serve) renders its answer to the client
// and proxies; Decide hands it as a value to the forward-auth endpoint
// (authorizer.go) and to other adapters such as Envoy's ext_authz.

// Decision is the gateway's answer to one request.
type Decision struct {
	Allowed bool
	// Status is 200 when allowed, else the refusal's status (400, 401,
	// 403, 404, 413, 429, 500, 503).
	Status int
	// Header: allowed, the identity headers to pass upstream (the
	// configured names, and the identity JWT when enabled; Cookie without
	// Ward's cookies when the client sent some); refused, the
	// headers of the refusal as the reverse proxy sends them
	// (WWW-Authenticate, DPoP-Nonce, Retry-After, RateLimit-*,
	// Cache-Control, X-Content-Type-Options), without Content-Type.
	Header http.Header
	// ResponseHeader, when allowed, are headers for the client's response
	// that the reverse proxy adds to the upstream's answer (RateLimit-*).
	ResponseHeader http.Header
	// Remove are the header names the upstream must never receive from
	// the client (the identity header names, credentials unless the route
	// forwards them, and the client's headers the gateway's scrub drops),
	// so a proxy can delete client-supplied copies.
	Remove []string
	// Body and ContentType: refused, the body the reverse proxy would send
	// (OAuth JSON error or text).
	Body        []byte
	ContentType string
	// Route is the matched route's name ("" when none).
	Route string
	// Reason is the rejection reason label, as in
	// ward_gateway_rejections_total ("" when allowed).
	Reason string
	// Identity is the verified identity (allowed and authenticated).
	Identity *resource.Identity

	// identityNames are the route's identity header names, set or not.
	identityNames []string
}

// Decide runs every check of the gateway on a request as the client sent it:
// r.Method, r.URL (path and query as sent), r.Host, r.Header, r.TLS (peer
// certificates, for mTLS-bound tokens and certificate-only routes) and
// r.RemoteAddr (the client's address, for per-IP limits). It never writes a
// response and never forwards; it may be called concurrently.
//
// When r.URL has a scheme and a host, a DPoP proof's htu must name them
// (RFC 9449 §4.3 (9)): a front door that rebuilds the client's request
// sets them from what a trusted proxy says the client used. Otherwise the
// URL is the listener's (public_url, or the trusted proxy's forwarded
// scheme and host). Routes served by the gateway itself (Mounts) are not
// Decide's to grant: they are refused as unknown (404).
func (g *Gateway) Decide(r *http.Request) *Decision {
	d, _ := g.decideValue(r)
	return d
}

// decideValue is Decide with the record, for front doors in this package
// that count and log the request (authorizer.go).
func (g *Gateway) decideValue(r *http.Request) (*Decision, *record) {
	r, certHeader := g.withoutClientCertHeader(r) // mtls.go
	st := g.state.Load()
	rec := &record{route: "none", outcome: outcomeUnset}
	resp := http.Header{}
	rt, f := g.decide(st, r, rec, resp)
	if f == nil && rt.local != nil {
		rec.outcome, f = OutcomeNoRoute, notFound
	}
	d := st.decision(r, rt, rec, f, resp)
	if certHeader != "" {
		d.Remove = append(d.Remove, certHeader)
	}
	return d, rec
}

// decision renders decide's answer as a value.
func (st *state) decision(r *http.Request, rt *route, rec *record, f *refusal, resp http.Header) *Decision {
	d := &Decision{Reason: string(rec.reason)}
	if rt != nil {
		d.Route = rt.cfg.Name
		d.Remove = rt.removed(r)
		d.identityNames = rt.idNames
	}
	if f != nil {
		w := &headerRecorder{h: resp}
		st.render(w, r, rt, f)
		d.Status, d.Body = w.status, w.body.Bytes()
		d.ContentType = resp.Get("Content-Type")
		resp.Del("Content-Type")
		d.Header = resp
		if d.Reason == "" {
			d.Reason = string(rec.outcome)
		}
		return d
	}
	d.Allowed, d.Status, d.Identity = true, http.StatusOK, rec.id
	d.Header = http.Header{}
	rt.identity(rec, func(name, v string) { d.Header[name] = []string{v} })
	d.wardCookies(r)
	delete(resp, "Cache-Control") // the upstream's answer has its own
	if len(resp) > 0 {
		d.ResponseHeader = resp
	}
	return d
}

// wardCookies tells a front door to drop Ward's cookies as scrub does
// (headers.go): the Cookie header without them, or Cookie in Remove when
// none is left. Without Ward's cookies, nothing is said.
func (d *Decision) wardCookies(r *http.Request) {
	vs := r.Header["Cookie"]
	if vs == nil {
		return
	}
	h := http.Header{"Cookie": slices.Clone(vs)}
	scrubCookies(h)
	switch kept := h["Cookie"]; {
	case slices.Equal(kept, vs):
	case len(kept) == 0:
		d.Remove = append(d.Remove, "Cookie")
	default:
		d.Header["Cookie"] = []string{strings.Join(kept, "; ")}
	}
}

// removed lists the names no upstream of rt may receive from the client:
// what the route strips and what scrub drops from r's headers.
func (rt *route) removed(r *http.Request) []string {
	names := append([]string(nil), rt.strip...)
	if rt.local != nil {
		return names
	}
	for k := range r.Header {
		if rt.drops(k) { // headers.go, as scrub
			names = append(names, k)
		}
	}
	return names
}

// refusal is a request decide refused: a text answer, an OAuth JSON error,
// or an OAuth error with the route's WWW-Authenticate challenge.
type refusal struct {
	status    int
	text      string       // when e is nil
	e         *oauth.Error // JSON error
	challenge bool         // e with the route's challenge (resource.WriteError)
	// wardHeader adds NoRouteHeader with e's code (notFound).
	wardHeader bool
}

// notFound is the gateway's own 404: no route matches the request's host
// and path. A JSON body with error "no_route" and the NoRouteHeader, so
// a client (or a person with curl) tells it from an upstream's 404, which
// the gateway passes through untouched. The body names nothing of the
// request: nothing the client sent is reflected.
var notFound = &refusal{status: http.StatusNotFound, e: &oauth.Error{
	Code: ErrorNoRoute, Status: http.StatusNotFound,
	Description: "no route of this gateway matches the request's host and path; check the URL against the gateway's routes",
}, wardHeader: true}

// ErrorNoRoute is the error code of the gateway's own 404, in its JSON
// body and in NoRouteHeader.
const ErrorNoRoute = "no_route"

// NoRouteHeader marks an answer the gateway made itself because no route
// matched (value ErrorNoRoute); an upstream's answer never carries it.
const NoRouteHeader = "X-Ward-Error"

// noRoute is the handler of the well-known paths without a document: the
// same answer as a request no route matches.
var noRoute = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	writeRefusal(w, notFound)
})

// writeRefusal writes a refusal without a route's challenge.
func writeRefusal(w http.ResponseWriter, f *refusal) {
	if f.wardHeader {
		w.Header().Set(NoRouteHeader, f.e.Code)
	}
	if f.e == nil {
		http.Error(w, f.text, f.status)
		return
	}
	oauth.WriteJSON(w, f.e)
}

// render writes a refusal, the same bytes for every front door.
func (st *state) render(w http.ResponseWriter, r *http.Request, rt *route, f *refusal) {
	if f.challenge {
		st.rs.WriteError(w, r, f.e, rt.req)
		return
	}
	writeRefusal(w, f)
}

// decide runs the checks in order: front door (size, host, path), route,
// per-IP limit, token and sender constraint, per-client limits, policy,
// identity. Headers for the client's response (RateLimit-*,
// Cache-Control) go into resp. It returns the matched route (nil when
// none) and the refusal, or nil when the request may go on: then
// rec.outcome says how (allowed, public, mount) and rec.id is the
// identity.
func (g *Gateway) decide(st *state, r *http.Request, rec *record, resp http.Header) (*route, *refusal) {
	if r.ContentLength > int64(st.cfg.Limits.MaxBodyBytes) {
		rec.outcome, rec.reason = OutcomeRejected, ReasonBodyTooLarge
		return nil, &refusal{status: http.StatusRequestEntityTooLarge, text: "request body too large"}
	}
	host, clean, reason, msg := st.target(r) // routes.go
	if reason != "" {
		rec.outcome, rec.reason = OutcomeRejected, reason
		return nil, &refusal{status: http.StatusBadRequest, text: msg}
	}
	rec.path = clean
	if wk := st.wellKnown(host, clean); wk != nil { // RFC 9728 (metadata.go)
		rec.route, rec.outcome = wk.cfg.Name, OutcomeMetadata
		return wk, nil
	}
	rt := st.match(host, clean)
	if rt == nil {
		rec.outcome = OutcomeNoRoute
		return nil, notFound
	}
	rec.route = rt.cfg.Name
	if f := g.checkBlock(r, rt, rec, ""); f != nil { // a blocked address, before anything else (block.go)
		return rt, f
	}
	if f := g.limit(r, rt, rec, nil, resp); f != nil { // per-IP tier, before authentication
		return rt, f
	}
	switch {
	case rt.local != nil:
		rec.outcome = OutcomeMount
		return rt, nil
	case rt.cfg.Unauthenticated:
		rec.outcome = OutcomePublic
		return rt, nil
	}
	resp["Cache-Control"] = g.securityValues(st.cfg).noStore
	if methodOverrideQuery(r.URL.RawQuery) { // headers.go
		rec.outcome, rec.reason = OutcomeRejected, ReasonMethodOverride
		return rt, &refusal{status: http.StatusBadRequest, text: "method override in the query: send the method itself"}
	}
	id, f := g.authenticate(st, r, rt, rec)
	if f != nil {
		return rt, f
	}
	rec.id = id
	if id.JKT != "" {
		if f := g.checkBlock(r, rt, rec, id.JKT); f != nil { // a blocked key
			return rt, f
		}
	}
	if f := g.limit(r, rt, rec, id, resp); f != nil { // per-client_id and per-subject tiers
		return rt, f
	}
	if f := g.authorize(r, rt, rec, id); f != nil {
		return rt, f
	}
	if f := g.signIdentity(st, rt, rec, id); f != nil {
		return rt, f
	}
	rec.outcome = OutcomeAllowed
	return rt, nil
}

// signIdentity signs the identity JWT into rec when one is configured
// (identityjwt.go). Signed before proxying: a request whose identity
// cannot be signed is refused, never forwarded without it.
func (g *Gateway) signIdentity(st *state, rt *route, rec *record, id *resource.Identity) *refusal {
	if g.identity == nil {
		return nil
	}
	tok, err := g.identity.sign(id, rt, st.cfg.IdentityJWT.TTL, g.clock())
	if err != nil {
		rec.outcome = OutcomeError
		g.log.Error("cannot sign the identity JWT", "route", rec.route, "err", err)
		return &refusal{status: http.StatusInternalServerError, text: "internal error"}
	}
	rec.identityJWT, rec.identityJWTHeader = tok, http.CanonicalHeaderKey(st.cfg.IdentityJWT.Header)
	return nil
}

// authenticate checks the access token and its sender constraint (DPoP
// proof, client certificate), or the client certificate alone on a
// certificate-only route.
func (g *Gateway) authenticate(st *state, r *http.Request, rt *route, rec *record) (*resource.Identity, *refusal) {
	var err error
	var id *resource.Identity
	if rt.certOnly {
		var e *oauth.Error
		if id, e = g.certificateOnly(r); e != nil { // mtls.go
			err = e
		}
	} else {
		id, err = authenticateTraced(st.rs, r, rt) // tracing.go
	}
	if err == nil {
		return id, nil
	}
	e := oauth.As(err)
	rec.outcome, rec.reason = OutcomeRejected, Reason(e.Reason)
	g.metrics.rejections.WithLabelValues(e.Reason, e.Code).Inc()
	g.logRejection(r, rec, e, resource.Thumbprint(err))
	g.emitRefusal(r, rt, e, err) // events.go
	g.strike(r, rt, e, err)      // block.go
	return nil, &refusal{e: e, challenge: true}
}

// authorize applies the route's policy to the verified identity.
func (g *Gateway) authorize(r *http.Request, rt *route, rec *record, id *resource.Identity) *refusal {
	d := rt.policy.Evaluate(policy.Request{
		Principals: principals(id),
		Method:     r.Method, Path: rec.path, Scopes: id.Scopes, Issuer: id.Issuer,
	})
	if d.Allowed {
		return nil
	}
	rec.outcome, rec.reason = OutcomeDenied, reasonPolicy+Reason(d.Reason)
	var e *oauth.Error
	if d.Reason == "insufficient_scope" {
		e = &oauth.Error{Code: oauth.InsufficientScope, Status: http.StatusForbidden, Reason: string(rec.reason),
			Description: "the access token lacks a scope this route requires", Scope: strings.Join(d.MissingScopes, " ")}
	} else {
		e = &oauth.Error{Code: oauth.AccessDenied, Status: http.StatusForbidden, Reason: string(rec.reason),
			Description: "the route's policy does not allow this request"}
	}
	g.metrics.rejections.WithLabelValues(e.Reason, e.Code).Inc()
	g.logRefusal(r, "request denied by policy", e.Reason, "route", rec.route, "method", r.Method, "path", rec.path, "rule", d.Rule,
		"reason", e.Reason, "policy_reason", d.Reason, "client_id", id.ClientID, "sub", id.Subject, "jkt", id.JKT, "spiffe_id", id.SPIFFEID)
	g.emitDenial(r, rt, e.Reason, id) // events.go
	return &refusal{e: e, challenge: true}
}

// requestURL is the URL a DPoP proof's htu must name (RFC 9449 §4.3
// (9)): the one a front door rebuilt from what a trusted proxy says
// (r.URL with a scheme and host), else the listener's: public_url, or
// the scheme and host a trusted TLS proxy forwards, or the connection's.
func (g *Gateway) requestURL(r *http.Request) string {
	if r.URL.Scheme != "" && r.URL.Host != "" {
		return r.URL.Scheme + "://" + r.URL.Host + r.URL.EscapedPath()
	}
	return dpop.RequestURL(r, g.fixed.publicURL, g.proofProxies)
}

// headerRecorder captures a refusal written for Decide.
type headerRecorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (w *headerRecorder) Header() http.Header { return w.h }

func (w *headerRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *headerRecorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
