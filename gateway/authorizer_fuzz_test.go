package gateway

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// FuzzAuthorizerRebuild: whatever a trusted proxy's check request holds,
// the rebuilt request is one the decision can read: an http(s) URL with
// the checked host, an origin-form path and the query as sent, the
// client's address, and none of the headers that described it.
func FuzzAuthorizerRebuild(f *testing.F) {
	f.Add(uint8(0), "GET", "/orders/1?x=1", "https", "gw.example", "")
	f.Add(uint8(1), "POST", "/a%2Fb/../c?q=%00", "HTTP", "gw.example:8443", "198.51.100.7, 192.0.2.9")
	f.Add(uint8(2), "DELETE", "/x;y?z#f", "https", "[::1]:9", "::1")
	f.Add(uint8(0), "GET", "//evil.example/x", "https", "gw.example", "")
	f.Add(uint8(1), "G ET", "*", "ftp", "a@b", "x")
	f.Fuzz(func(t *testing.T, style uint8, method, uri, proto, host, xff string) {
		a := &authorizer{path: "/_ward/authorize", trusted: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
		r := &http.Request{Method: "GET", URL: &url.URL{Path: a.path}, Header: http.Header{}, Host: "ward.internal", RemoteAddr: "192.0.2.1:5000"}
		r.Header["X-Forwarded-Proto"] = []string{proto}
		if xff != "" {
			r.Header["X-Forwarded-For"] = []string{xff}
		}
		switch style % 3 {
		case 0:
			r.Header["X-Original-Method"] = []string{method}
			r.Header["X-Original-Uri"] = []string{uri}
			r.Header["X-Forwarded-Host"] = []string{host}
		case 1:
			r.Header["X-Forwarded-Method"] = []string{method}
			r.Header["X-Forwarded-Uri"] = []string{uri}
			r.Header["X-Forwarded-Host"] = []string{host}
		case 2:
			u, err := url.ParseRequestURI(a.path + uri)
			if err != nil {
				return
			}
			r.URL, r.Method, r.Host = u, method, host
		}
		out, _, err := a.rebuild(r)
		if err != nil {
			return
		}
		scheme := strings.ToLower(proto)
		switch {
		case out.URL.Scheme != scheme || (scheme != "http" && scheme != "https"):
			t.Fatalf("scheme %q from %q", out.URL.Scheme, proto)
		case out.URL.Host != host || out.Host != host || !validHost(host):
			t.Fatalf("host %q %q from %q", out.URL.Host, out.Host, host)
		case !strings.HasPrefix(out.URL.EscapedPath(), "/") || out.URL.Opaque != "" || out.URL.User != nil:
			t.Fatalf("URL %#v from %q", out.URL, uri)
		case !validMethod(out.Method) || out.Method != method:
			t.Fatalf("method %q from %q", out.Method, method)
		}
		if _, q, ok := strings.Cut(uri, "?"); ok && style%3 != 2 && out.URL.RawQuery != q {
			t.Fatalf("query %q from %q", out.URL.RawQuery, uri)
		}
		if _, err := netip.ParseAddrPort(out.RemoteAddr); err != nil {
			t.Fatalf("remote %q: %v", out.RemoteAddr, err)
		}
		for k := range out.Header {
			if hasFoldPrefix(k, "x-forwarded-") || hasFoldPrefix(k, "x-original-") {
				t.Fatalf("header %s reached the decision", k)
			}
		}
		g := &Gateway{}
		if got, want := g.requestURL(out), scheme+"://"+host+out.URL.EscapedPath(); got != want {
			t.Fatalf("htu URL %q, want %q", got, want)
		}
	})
}
