package gateway

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// The client's request headers an upstream never sees. scrub runs in
// proxy, before the request takes the direct path (forward.go) or
// httputil.ReverseProxy, so both send the same headers; the identity
// headers, Authorization and DPoP are removed later by each path from
// route.strip, and the X-Forwarded-For/-Host/-Proto the gateway sets are
// written after.

// clientAddressHeaders name a client address, host or URL that some
// proxy, CDN or framework trusts. The gateway sets X-Forwarded-For,
// -Host and -Proto itself (from the connection and the checked Host) and
// none of these, so a client's value is a lie the upstream might believe.
// Every X-Forwarded-* name goes too (forwardedPrefix).
var clientAddressHeaders = map[string]bool{
	"Forwarded": true, "X-Real-Ip": true, "True-Client-Ip": true, "X-Client-Ip": true, "Client-Ip": true,
	"X-Original-Forwarded-For": true, "Cf-Connecting-Ip": true, "Fastly-Client-Ip": true,
	"X-Cluster-Client-Ip": true, "X-Originating-Ip": true, "X-Remote-Ip": true, "X-Remote-Addr": true,
	"X-Original-Url": true, "X-Rewrite-Url": true, "X-Original-Host": true, "X-Host": true,
	"X-Envoy-External-Address": true, "X-Envoy-Internal": true,
}

// methodOverrideHeaders make frameworks (Express method-override,
// Symfony, Laravel, ASP.NET, Spring's HiddenHttpMethodFilter variants)
// treat a request as another method than the one the route's policy
// checked: POST with X-HTTP-Method-Override: DELETE passes a policy that
// allows POST only. They are never forwarded (docs/DECISIONS.md).
var methodOverrideHeaders = map[string]bool{
	"X-Http-Method-Override": true, "X-Http-Method": true, "X-Method-Override": true,
}

// cgiHeaders become dangerous variables in a CGI-style server: Proxy is
// HTTP_PROXY there, which many HTTP libraries take for their outbound
// proxy ("httpoxy", CVE-2016-5385).
var cgiHeaders = map[string]bool{"Proxy": true}

// droppedNames is the three sets above in one, for one lookup per header.
var droppedNames = func() map[string]bool {
	m := map[string]bool{}
	for _, set := range []map[string]bool{clientAddressHeaders, methodOverrideHeaders, cgiHeaders} {
		for n := range set {
			m[n] = true
		}
	}
	return m
}()

// forwardedPrefix and wardPrefix are folded name prefixes: every
// X-Forwarded-* header is the gateway's to set, and every X-Ward-* name
// is Ward's (X-Ward-Identity when identity_jwt is off, an identity header
// configured away): a client's never reaches an upstream.
const forwardedPrefix, wardPrefix = "x-forwarded-", "x-ward-"

// reservedNames returns the folded names a client header may never fold
// to, even on a route that forwards underscore names: the headers the
// route strips (identity, credentials), the ones the direct path and
// ReverseProxy write or drop themselves, and the sets above.
func reservedNames(strip []string) map[string]bool {
	res := map[string]bool{"authorization": true, "dpop": true, "cookie": true, "host": true}
	add := func(n string) { res[foldName(n)] = true }
	for _, n := range strip {
		add(n)
	}
	for n := range directExcluded {
		add(n)
	}
	for n := range clientAddressHeaders {
		add(n)
	}
	for n := range methodOverrideHeaders {
		add(n)
	}
	for n := range cgiHeaders {
		add(n)
	}
	return res
}

// foldName is a header name as CGI, PHP-FPM, WSGI and Rack see it: case
// and the difference between '-' and '_' gone (HTTP_X_WARD_SUBJECT is
// both X-Ward-Subject and X_Ward_Subject).
func foldName(n string) string {
	b := []byte(n)
	for i, c := range b {
		switch {
		case c == '_':
			b[i] = '-'
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// scrub removes from r's headers what no upstream of rt may receive:
// names with '_' (unless the route allows them and they fold to no
// reserved name) or with other characters than letters, digits and '-',
// client-chosen addresses and hosts, method overrides, Proxy, any
// X-Ward-* name, and Ward's own cookies. Request trailers are never
// forwarded.
func (rt *route) scrub(r *http.Request) {
	h := r.Header
	for k := range h {
		if rt.drops(k) {
			delete(h, k)
		}
	}
	if h["Cookie"] != nil {
		scrubCookies(h)
	}
	// Trailers are headers too, sent after the body, where no check of
	// this file looks (the reverse proxy passed their names on).
	r.Trailer = nil
}

// drops reports whether scrub removes the header named k.
func (rt *route) drops(k string) bool {
	switch plainName(k) {
	case nameUnderscore:
		f := foldName(k)
		return !rt.cfg.AllowUnderscoreHeaders || rt.reserved[f] ||
			strings.HasPrefix(f, forwardedPrefix) || strings.HasPrefix(f, wardPrefix)
	case nameOdd:
		return true
	default:
		return droppedNames[k] || hasFoldPrefix(k, forwardedPrefix) || hasFoldPrefix(k, wardPrefix)
	}
}

// Kinds of header names, as plainName sorts them.
const (
	namePlain      = iota // letters, digits and '-' only
	nameUnderscore        // and '_'
	nameOdd               // another character ('.', '!', '~', ...)
)

// plainName sorts a header name as nginx's ignore_invalid_headers and
// underscores_in_headers do: letters, digits and '-' pass; a name with
// any other character is dropped (with '_' only, a route may allow it).
func plainName(k string) int {
	kind := namePlain
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
		case c == '_':
			kind = nameUnderscore
		default:
			return nameOdd
		}
	}
	return kind
}

// hasFoldPrefix reports whether the canonical name k starts with the
// lower-case prefix p, in any case.
func hasFoldPrefix(k, p string) bool {
	return len(k) >= len(p) && strings.EqualFold(k[:len(p)], p)
}

// wardCookie reports whether a cookie name is Ward's: the namespace
// ward-, with or without the __Host- or __Secure- prefix (RFC 6265bis
// §4.1.3), in any case. The BFF's session and login cookies
// (ward-bff-<site>, ward-bff-<site>-login) and the authorization server's
// session and browser cookies (ward-session, ward-browser) are in it.
func wardCookie(name string) bool {
	for _, p := range [...]string{"__host-", "__secure-"} {
		if hasFoldPrefix(name, p) {
			name = name[len(p):]
			break
		}
	}
	return hasFoldPrefix(name, "ward-")
}

// scrubCookies removes Ward's cookies from the Cookie header(s) of h and
// keeps every other cookie-pair as it was sent; a Cookie header left
// empty goes, and so does the Cookie header when none is left.
func scrubCookies(h http.Header) {
	vs := h["Cookie"]
	var kept []string
	changed := false
	for _, v := range vs {
		if !containsFold(v, "ward-") {
			kept = append(kept, v)
			continue
		}
		changed = true
		var pairs []string
		for p := range strings.SplitSeq(v, ";") {
			p = textproto.TrimString(p)
			name, _, _ := strings.Cut(p, "=")
			if p == "" || wardCookie(textproto.TrimString(name)) {
				continue
			}
			pairs = append(pairs, p)
		}
		if len(pairs) > 0 {
			kept = append(kept, strings.Join(pairs, "; "))
		}
	}
	switch {
	case !changed:
	case len(kept) == 0:
		delete(h, "Cookie")
	default:
		h["Cookie"] = kept
	}
}

// dropWardSetCookies removes an upstream's Set-Cookie fields that name a
// Ward cookie: an upstream on the gateway's host could otherwise plant
// its own BFF or authorization-server session in the browser (session
// fixation) or log the user out of it.
func dropWardSetCookies(h http.Header) {
	vs := h["Set-Cookie"]
	if vs == nil {
		return
	}
	kept := vs[:0:0]
	for _, v := range vs {
		if !setsWardCookie(v) {
			kept = append(kept, v)
		}
	}
	switch {
	case len(kept) == len(vs):
	case len(kept) == 0:
		delete(h, "Set-Cookie")
	default:
		h["Set-Cookie"] = kept
	}
}

// setsWardCookie reports whether a Set-Cookie value names a Ward cookie,
// also as a nameless cookie (=ward-session=x), which browsers send as
// ward-session=x.
func setsWardCookie(v string) bool {
	pair, _, _ := strings.Cut(v, ";")
	name, val, _ := strings.Cut(pair, "=")
	if name = textproto.TrimString(name); name == "" {
		name, _, _ = strings.Cut(val, "=")
		name = textproto.TrimString(name)
	}
	return wardCookie(name)
}

// containsFold reports whether s contains the lower-case ASCII sub in any
// case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// methodOverrideQuery reports whether a query names a method override:
// a parameter _method (Symfony, Laravel, Express's method-override with a
// query key) or named like an override header. PHP reads ' ', '.' and
// '[' in a name as '_' (?.method= is $_GET['_method']), so the names are
// compared after that folding and in any case. A route with a policy
// refuses such a request (serve): the policy checked the request's own
// method.
func methodOverrideQuery(q string) bool {
	if q == "" || !containsFold(q, "method") {
		return false
	}
	for p := range strings.SplitSeq(q, "&") {
		k, _, _ := strings.Cut(p, "=")
		if u, err := url.QueryUnescape(k); err == nil {
			k = u
		}
		k = strings.Map(func(c rune) rune {
			if c == ' ' || c == '.' || c == '[' {
				return '_'
			}
			return c
		}, strings.TrimLeft(k, " "))
		if strings.EqualFold(k, "_method") || methodOverrideHeaders[http.CanonicalHeaderKey(foldDash(k))] {
			return true
		}
	}
	return false
}

// foldDash reads '_' as '-' (x_http_method_override as a query name).
func foldDash(k string) string { return strings.ReplaceAll(k, "_", "-") }
