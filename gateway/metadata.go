package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/resource"
)

// metadataDocs are the RFC 9728 protected resource metadata documents of
// one configuration generation, by well-known path (RFC 9728 §3.1: the
// well-known segment, then the resource identifier's path). Resources on
// different hosts may share a path; the request's host picks among them.
type metadataDocs map[string][]metadataDoc

type metadataDoc struct {
	host    string // the resource identifier's host, lower case
	handler http.Handler
}

// resourceDoc gathers what the routes sharing one resource identifier
// (their audience) accept.
type resourceDoc struct {
	host    string
	scopes  []string
	issuers []string // the issuer identifiers the routes accept
	bearer  bool     // a route accepts unbound tokens
}

// buildMetadata makes a document for every resource identifier that a
// token-checking route uses as its audience, and points each such route's
// challenges at it (resource_metadata, RFC 9728 §5.1). An audience that is
// not an http(s) URL without query or fragment (RFC 9728 §1.2) has no
// document, and its routes' challenges name none.
func (g *Gateway) buildMetadata(cfg *config.Gateway, routes []*route) metadataDocs {
	byAud := map[string]*resourceDoc{}
	var order []string
	for _, rt := range routes {
		if rt.local != nil || rt.cfg.Unauthenticated || rt.certOnly {
			continue
		}
		aud := cfg.RouteAudience(rt.cfg)
		host, ok := resourceHost(aud)
		if !ok {
			continue
		}
		d := byAud[aud]
		if d == nil {
			d = &resourceDoc{host: host}
			byAud[aud] = d
			order = append(order, aud)
		}
		d.scopes = append(d.scopes, rt.cfg.Scopes...)
		d.issuers = append(d.issuers, g.routeIssuers(rt.cfg)...)
		for _, p := range rt.cfg.Policy {
			if p.Action == "allow" {
				d.scopes = append(d.scopes, p.Scopes...)
			}
		}
		d.bearer = d.bearer || rt.cfg.AllowBearer
		rt.req.ResourceMetadata = resource.ResourceMetadataURL(aud)
	}
	// Certificate-bound tokens (RFC 8705 §3) are checked when client
	// certificates reach the gateway; such tokens need no DPoP.
	mtls := cfg.MTLS.Enabled()
	docs := metadataDocs{}
	for _, aud := range order {
		d := byAud[aud]
		slices.Sort(d.scopes)
		slices.Sort(d.issuers)
		md := resource.Metadata{
			Resource:                              aud,
			AuthorizationServers:                  slices.Compact(d.issuers),
			ScopesSupported:                       slices.Compact(d.scopes),
			BearerMethodsSupported:                []string{"header"},
			DPoPSigningAlgValuesSupported:         g.verifier.Algorithms(),
			DPoPBoundAccessTokensRequired:         !d.bearer && !mtls,
			TLSClientCertificateBoundAccessTokens: mtls,
		}
		p := resource.MetadataPath(aud)
		docs[p] = append(docs[p], metadataDoc{host: d.host, handler: resource.MetadataHandler(md)})
	}
	return docs
}

// resourceHost returns the host of a resource identifier that can have a
// metadata document: an https URL (http for a loopback development
// gateway) with a host and no query or fragment.
func resourceHost(aud string) (string, bool) {
	u, err := url.Parse(aud)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", false
	}
	return strings.ToLower(u.Hostname()), true
}

// wellKnown is the route of a request under the well-known path: the
// document of the resource at that path (on the request's host when
// several hosts share it), or 404; nil for any other path. The gateway
// owns the path: it is never proxied, so no upstream can publish
// metadata for a route. It is served as a mount, so Decide (forward
// auth, ext_authz) refuses it as unknown rather than grant it.
func (st *state) wellKnown(host, clean string) *route {
	if clean != resource.WellKnownPath && !strings.HasPrefix(clean, resource.WellKnownPath+"/") {
		return nil
	}
	var h http.Handler = noRoute
	docs := st.metadata[clean]
	for _, d := range docs {
		if d.host == host || len(docs) == 1 {
			h = d.handler
		}
	}
	return &route{cfg: wellKnownRoute, local: h}
}

// wellKnownRoute names the metadata documents' route in metrics and logs.
var wellKnownRoute = &config.Route{Name: "well-known"}

// routeIssuers are the identifiers of the issuers whose tokens rc accepts
// (routes[].issuers by name or identifier; every configured one when it
// names none), for the document's authorization_servers.
func (g *Gateway) routeIssuers(rc *config.Route) []string {
	var out []string
	for _, src := range g.issuers {
		is := src.cfg
		if len(rc.Issuers) == 0 || slices.Contains(rc.Issuers, is.IssuerName()) || slices.Contains(rc.Issuers, is.Issuer) {
			out = append(out, is.Issuer)
		}
	}
	return out
}

// addHosts adds the hosts of the documents' resource identifiers to hosts
// (state.hosts, when the gateway checks Host at all): a route's audience
// names a host the operator configured, whose metadata the gateway
// serves.
func (docs metadataDocs) addHosts(hosts map[string]bool) {
	if hosts == nil {
		return
	}
	for _, ds := range docs {
		for _, d := range ds {
			hosts[d.host] = true
		}
	}
}
