package authz

import (
	"net/url"
	"strconv"
	"strings"
)

// matchRedirect reports whether requested is one of the client's
// registered redirect URIs; only a public (native) client gets the
// loopback any-port exception of RFC 8252 §7.3.
func (c *client) matchRedirect(requested string) bool {
	return matchRedirectURI(c.RedirectURIs, requested, c.Public())
}

// matchRedirectURI reports whether requested is one of the registered
// redirect URIs. The comparison is exact, on the strings as sent (OAuth 2.1
// §2.3.1, RFC 9700 §4.1.3): no case folding, no percent-decoding, no path
// or query normalisation. The one exception is RFC 8252 §7.3, when
// anyLoopbackPort is set (native apps, which are public clients, RFC 8252
// §8.4): for a registered http URI on a loopback IP literal (127.0.0.1 or
// [::1]) any port is accepted, everything else staying exact. A
// confidential client's loopback URI is compared exactly, port included:
// its listener is a server it runs, not an ephemeral port of a native app.
func matchRedirectURI(registered []string, requested string, anyLoopbackPort bool) bool {
	if requested == "" {
		return false
	}
	for _, reg := range registered {
		if reg == requested {
			return true
		}
	}
	if !anyLoopbackPort {
		return false
	}
	rh, _, rrest, ok := splitLoopback(requested)
	if !ok {
		return false
	}
	for _, reg := range registered {
		h, _, rest, ok := splitLoopback(reg)
		if ok && h == rh && rest == rrest {
			return true
		}
	}
	return false
}

// splitLoopback splits an http URI on a loopback IP literal into the
// scheme and host prefix, the port ("" when absent) and the rest (path and
// query). ok is false for anything else, including userinfo, a host that
// merely starts with the loopback address, and a fragment.
func splitLoopback(u string) (host, port, rest string, ok bool) {
	for _, h := range [...]string{"http://127.0.0.1", "http://[::1]"} {
		if !strings.HasPrefix(u, h) {
			continue
		}
		r := u[len(h):]
		if strings.HasPrefix(r, ":") {
			i := 1
			for i < len(r) && r[i] >= '0' && r[i] <= '9' {
				i++
			}
			port = r[1:i]
			n, err := strconv.Atoi(port)
			if port == "" || len(port) > 5 || err != nil || n < 1 || n > 65535 || port[0] == '0' {
				return "", "", "", false
			}
			r = r[i:]
		}
		if r != "" && r[0] != '/' && r[0] != '?' {
			return "", "", "", false
		}
		if strings.ContainsAny(r, "#\\") {
			return "", "", "", false
		}
		return h, port, r, true
	}
	return "", "", "", false
}

// appendParams adds params to the query of a redirect URI, after the query
// it may already have (OAuth 2.1 §4.1.2: the registered query is kept).
func appendParams(uri string, params url.Values) string {
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
		if strings.HasSuffix(uri, "?") || strings.HasSuffix(uri, "&") {
			sep = ""
		}
	}
	return uri + sep + params.Encode()
}

// formActionSource is the CSP source of a redirect URI, for the
// form-action directive of the pages whose form submission ends in a
// redirect to the client (browsers check form-action along the redirect
// chain).
func formActionSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return ""
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" || strings.ContainsAny(u.Host, " ;,'\"") {
			return ""
		}
		return u.Scheme + "://" + u.Host
	}
	for _, r := range u.Scheme {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '+' || r == '-') {
			return ""
		}
	}
	return u.Scheme + ":"
}
