package gateway

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/resource"
)

// upstreamHeaders parses the header lines of exchange's description of
// the request the upstream read.
func upstreamHeaders(t *testing.T, s saw) http.Header {
	t.Helper()
	lines := strings.Split(s.Upstream, "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], " HTTP/1.1 ") {
		t.Fatalf("the upstream read no request: %+v", s)
	}
	h := http.Header{}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, "=")
		if !ok || strings.HasPrefix(l, "body=") {
			continue
		}
		h[k] = []string{v}
	}
	return h
}

// bothPaths runs f for ReverseProxy and for the direct path.
func bothPaths(t *testing.T, f func(t *testing.T, direct bool)) {
	for _, direct := range []bool{false, true} {
		name := "ReverseProxy"
		if direct {
			name = "direct"
		}
		t.Run(name, func(t *testing.T) { f(t, direct) })
	}
}

// A browser logged in at a BFF site (or at the authorization server on a
// shared host) sends Ward's session cookies with every request to the
// host; no upstream may receive them, or it could replay the session.
// The upstream's own cookies arrive as they were sent.
func TestWardCookiesNeverReachUpstreams(t *testing.T) {
	const cookies = "Cookie: __Host-ward-bff-app=SID1; theme=dark\r\n" +
		"Cookie:ward-session=SID2 ;lang=en;  __HOST-WARD-BFF-APP-login=SID3\r\n" +
		"Cookie: __Host-ward-browser=SID4\r\n" +
		"Cookie: ward-bff-demo=SID5;\tcart=1=2; __Secure-ward-x=SID6\r\n"
	bothPaths(t, func(t *testing.T, direct bool) {
		s := exchange(t, direct, "GET", "/p/x", cookies, []byte("HTTP/1.1 204 No Content\r\n\r\n"), false, "", nil)
		if strings.Contains(s.Upstream, "SID") {
			t.Fatalf("a Ward cookie reached the upstream:\n%s", s.Upstream)
		}
		if got, want := upstreamHeaders(t, s).Get("Cookie"), `["theme=dark" "lang=en" "cart=1=2"]`; got != want {
			t.Fatalf("upstream Cookie %s, want %s", got, want)
		}
		s = exchange(t, direct, "GET", "/p/x", "Cookie: __Host-ward-bff-app=SID1\r\nCookie: ward-session=SID2; ; \r\n", []byte("HTTP/1.1 204 No Content\r\n\r\n"), false, "", nil)
		if strings.Contains(s.Upstream, "Cookie") {
			t.Fatalf("an emptied Cookie header was forwarded:\n%s", s.Upstream)
		}
	})
}

// Ward's own cookie names are in the namespace scrub removes.
func TestWardCookieNamesCovered(t *testing.T) {
	for _, n := range []string{authz.SessionCookie, authz.BrowserCookie, "__Host-" + authz.SessionCookie, "__Host-" + authz.BrowserCookie,
		"ward-bff-app", "__Host-ward-bff-app", "__Host-ward-bff-app-login", "__host-WARD-bff-app"} {
		if !wardCookie(n) {
			t.Errorf("%q is not taken for a Ward cookie", n)
		}
	}
	for _, n := range []string{"theme", "session", "myward-x", "__Host-session", "war-d", ""} {
		if wardCookie(n) {
			t.Errorf("%q is taken for a Ward cookie", n)
		}
	}
}

func TestScrubCookies(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"a=1; b=2"}, []string{"a=1; b=2"}},
		{[]string{"a=1;b=2; ward-session=x"}, []string{"a=1; b=2"}},
		{[]string{"  __Host-ward-bff-app=x  ;  a=1  "}, []string{"a=1"}},
		{[]string{"Ward-Session=x", "a=1"}, []string{"a=1"}},
		{[]string{"a=1", "ward-browser=x"}, []string{"a=1"}},
		{[]string{"ward-session=x", "__Host-ward-browser=y;"}, nil},
		{[]string{" ward-session = x ; a=ward-session"}, []string{"a=ward-session"}},
		{[]string{"x=1;;y=2;ward-bff-a=3"}, []string{"x=1; y=2"}},
	} {
		h := http.Header{"Cookie": tc.in}
		scrubCookies(h)
		if !reflect.DeepEqual(h["Cookie"], tc.want) {
			t.Errorf("%q: got %q, want %q", tc.in, h["Cookie"], tc.want)
		}
	}
}

// FuzzScrubCookies: after scrubCookies, net/http's cookie parser finds no
// Ward cookie in the request and every other cookie it found before.
func FuzzScrubCookies(f *testing.F) {
	f.Add("a=1; __Host-ward-bff-app=x", "ward-session=y;b=2")
	f.Add(" ; ;ward-browser=1", "")
	f.Add("=ward-session=x; a=\"q\"", "\t__SECURE-ward-y=1 ;c")
	f.Fuzz(func(t *testing.T, c1, c2 string) {
		r := &http.Request{Header: http.Header{"Cookie": {c1, c2}}}
		var want []string
		for _, c := range r.Cookies() {
			if !wardCookie(c.Name) {
				want = append(want, c.Name+"="+c.Value)
			}
		}
		scrubCookies(r.Header)
		var got []string
		for _, c := range r.Cookies() {
			if wardCookie(c.Name) {
				t.Fatalf("%q %q: Ward cookie %q left in %q", c1, c2, c.Name, r.Header["Cookie"])
			}
			got = append(got, c.Name+"="+c.Value)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q %q: cookies %q, want %q (header %q)", c1, c2, got, want, r.Header["Cookie"])
		}
		for _, v := range r.Header["Cookie"] {
			if strings.Trim(v, " \t;") == "" && v != c1 && v != c2 {
				t.Fatalf("Cookie header emptied but kept: %q", r.Header["Cookie"])
			}
		}
	})
}

// An upstream on the gateway's host cannot plant a Ward session in the
// browser (session fixation) or clear one: its Set-Cookie fields naming
// a Ward cookie are dropped on both paths.
func TestUpstreamCannotSetWardCookies(t *testing.T) {
	answer := "HTTP/1.1 200 OK\r\nSet-Cookie: __Host-ward-bff-app=ATTACKER; Path=/; Secure; HttpOnly\r\n" +
		"Set-Cookie: ward-session=ATTACKER\r\nSet-Cookie: =ward-bff-demo=ATTACKER\r\nSet-Cookie: __HOST-ward-browser=ATTACKER\r\n" +
		"Set-Cookie: theme=dark; Path=/\r\nContent-Length: 2\r\n\r\nok"
	bothPaths(t, func(t *testing.T, direct bool) {
		s := exchange(t, direct, "GET", "/p/x", "", []byte(answer), false, "", nil)
		if len(s.Answers) != 1 || strings.Contains(s.Answers[0], "ATTACKER") || !strings.Contains(s.Answers[0], `Set-Cookie=["theme=dark; Path=/"]`) {
			t.Fatalf("client got %+v", s.Answers)
		}
		// Also on an informational answer before it.
		s = exchange(t, direct, "GET", "/p/x", "", []byte("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\nSet-Cookie: ward-session=ATTACKER\r\n\r\n"+answer), false, "", nil)
		if len(s.Answers) != 2 || strings.Contains(strings.Join(s.Answers, ""), "ATTACKER") || !strings.Contains(s.Answers[0], "Link=") {
			t.Fatalf("client got %+v", s.Answers)
		}
	})
}

// Header names with '_' are dropped (CGI, PHP-FPM, WSGI and Rack read
// X_Ward_Subject as X-Ward-Subject: Puma CVE-2024-45614's class). A route
// with allow_underscore_headers forwards them, but never one that folds
// to a reserved name.
func TestUnderscoreHeadersDropped(t *testing.T) {
	const forged = "X-Ward-SPIFFE_ID: spiffe://evil/admin\r\nX_Ward_Subject: admin\r\nx_ward_client: root\r\n" +
		"X_Forwarded_For: 6.6.6.6\r\nX-Forwarded_Host: evil.example\r\nX_Real_IP: 6.6.6.6\r\nAuthorization_: x\r\n" +
		"X_HTTP_Method_Override: DELETE\r\nX_Ward_Other: x\r\nX_App_Tag: kept\r\n"
	id := &resource.Identity{Subject: "alice", ClientID: "app"}
	bothPaths(t, func(t *testing.T, direct bool) {
		for _, allow := range []bool{false, true} {
			s := exchangeRoute(t, direct, func(rc *config.Route) { rc.AllowUnderscoreHeaders = allow }, "GET", "/p/x", forged,
				[]byte("HTTP/1.1 204 No Content\r\n\r\n"), "", id)
			h := upstreamHeaders(t, s)
			for k := range h {
				if strings.Contains(k, "_") && !(allow && k == "X_app_tag") && !(allow && k == "Authorization_") {
					t.Errorf("allow %v: upstream received %s %s", allow, k, h[k])
				}
			}
			if allow && (h.Get("X_app_tag") == "" || h.Get("Authorization_") == "") {
				t.Errorf("allow_underscore_headers: X_App_Tag or Authorization_ not forwarded:\n%s", s.Upstream)
			}
			if h.Get("X-Ward-Subject") != `["alice"]` || h.Get("X-Forwarded-For") != `["127.0.0.1"]` || h.Get("X-Forwarded-Host") != `["gw.example"]` {
				t.Errorf("allow %v: verified headers changed:\n%s", allow, s.Upstream)
			}
		}
	})
}

// Method overrides never reach the upstream: a route's policy checks
// the request's method, and a framework honouring the override would run
// another one (the policy side is gateway.TestMethodOverrideAgainstPolicy).
func TestMethodOverrideHeadersStripped(t *testing.T) {
	const over = "X-HTTP-Method-Override: DELETE\r\nX-Http-Method: DELETE\r\nX-Method-Override: PUT\r\nx-http-method-override: PATCH\r\n"
	bothPaths(t, func(t *testing.T, direct bool) {
		s := exchange(t, direct, "GET", "/p/x", over, []byte("HTTP/1.1 204 No Content\r\n\r\n"), false, "", nil)
		h := upstreamHeaders(t, s)
		for k := range h {
			if strings.Contains(strings.ToLower(k), "method") {
				t.Errorf("upstream received %s %s", k, h[k])
			}
		}
	})
}

// Addresses, hosts and URLs a client chooses never reach the upstream;
// it gets the gateway's X-Forwarded-For/-Host/-Proto only.
func TestClientAddressHeadersStripped(t *testing.T) {
	var b strings.Builder
	for _, k := range []string{"X-Real-IP", "True-Client-IP", "X-Client-IP", "Client-IP", "Forwarded", "X-Forwarded-For",
		"X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Server", "X-Forwarded-Prefix", "X-FORWARDED-SCHEME",
		"X-Forwarded-Client-Cert", "X-Original-Forwarded-For", "CF-Connecting-IP", "Fastly-Client-IP", "X-Cluster-Client-IP",
		"X-Originating-IP", "X-Remote-IP", "X-Remote-Addr", "X-Original-URL", "X-Rewrite-URL", "X-Original-Host", "X-Host",
		"X-Envoy-External-Address"} {
		b.WriteString(k + ": evil\r\n")
	}
	bothPaths(t, func(t *testing.T, direct bool) {
		s := exchange(t, direct, "GET", "/p/x", b.String(), []byte("HTTP/1.1 204 No Content\r\n\r\n"), false, "", nil)
		if strings.Contains(s.Upstream, "evil") {
			t.Fatalf("a client-chosen address reached the upstream:\n%s", s.Upstream)
		}
		h := upstreamHeaders(t, s)
		if h.Get("X-Forwarded-For") != `["127.0.0.1"]` || h.Get("X-Forwarded-Host") != `["gw.example"]` || h.Get("X-Forwarded-Proto") != `["http"]` {
			t.Fatalf("the gateway's forwarding headers are missing:\n%s", s.Upstream)
		}
	})
}

// Names with characters other than letters, digits, '-' and '_' are
// dropped as nginx drops them (ignore_invalid_headers), also on a route
// that allows '_'; Proxy, which CGI turns into HTTP_PROXY (httpoxy,
// CVE-2016-5385), is never forwarded.
func TestOddHeaderNamesAndProxyDropped(t *testing.T) {
	const odd = "X-Ward.Subject: admin\r\nX~Ward~Client: root\r\nX-App!: x\r\nProxy: http://evil.example:3128\r\nX-App: kept\r\n"
	bothPaths(t, func(t *testing.T, direct bool) {
		for _, allow := range []bool{false, true} {
			s := exchangeRoute(t, direct, func(rc *config.Route) { rc.AllowUnderscoreHeaders = allow }, "GET", "/p/x", odd,
				[]byte("HTTP/1.1 204 No Content\r\n\r\n"), "", nil)
			if strings.Contains(s.Upstream, "admin") || strings.Contains(s.Upstream, "root") || strings.Contains(s.Upstream, "evil") ||
				strings.Contains(s.Upstream, "X-App!") || !strings.Contains(s.Upstream, `X-App=["kept"]`) {
				t.Errorf("allow %v: upstream read\n%s", allow, s.Upstream)
			}
		}
	})
}

// A chunked request's trailers are headers sent after the body: none is
// forwarded, not even the names (ReverseProxy announced them).
func TestRequestTrailersNotForwarded(t *testing.T) {
	s := exchange(t, false, "POST", "/p/x", "Transfer-Encoding: chunked\r\nTrailer: X-Ward-Subject, Cookie\r\n\r\n3\r\nabc\r\n0\r\nX-Ward-Subject: admin\r\nCookie: ward-session=SID\r\n",
		[]byte("HTTP/1.1 204 No Content\r\n\r\n"), false, "", nil)
	if !strings.Contains(s.Upstream, `body="abc"`) || strings.Contains(s.Upstream, "Ward") || strings.Contains(s.Upstream, "Trailer") || strings.Contains(s.Upstream, "SID") {
		t.Fatalf("upstream read\n%s", s.Upstream)
	}
}

// Every X-Ward-* name a client sends is dropped, not only the identity
// headers the gateway sets: X-Ward-Identity when identity_jwt is off, or
// one configured to another name, could otherwise pass for the
// gateway's.
func TestWardNamespaceHeadersDropped(t *testing.T) {
	const forged = "X-Ward-Identity: eyJforged\r\nX-Ward-Subject: admin\r\nx-ward-role: admin\r\nX-Ward-Csrf: 1\r\n"
	bothPaths(t, func(t *testing.T, direct bool) {
		s := exchange(t, direct, "GET", "/p/x", forged, []byte("HTTP/1.1 204 No Content\r\n\r\n"), false, "", nil)
		for k := range upstreamHeaders(t, s) {
			if strings.HasPrefix(k, "X-Ward") {
				t.Errorf("upstream received %s", k)
			}
		}
	})
}

func TestMethodOverrideQuery(t *testing.T) {
	for q, want := range map[string]bool{
		"":                           false,
		"a=1&b=2":                    false,
		"x=_method":                  false,
		"method=DELETE":              false,
		"_method=DELETE":             true,
		"a=1&_METHOD=put":            true,
		"%5fmethod=DELETE":           true,
		".method=DELETE":             true,
		"+_method=DELETE":            true,
		"%20method=DELETE":           false, // PHP drops leading spaces: "method"
		"%20%20_method=DELETE":       true,
		"X-HTTP-Method-Override=PUT": true,
		"x_http_method=PUT":          true,
		"x-method-override":          true,
	} {
		if got := methodOverrideQuery(q); got != want {
			t.Errorf("%q: %v, want %v", q, got, want)
		}
	}
}

// FuzzMethodOverrideQuery: a query in which net/url finds a parameter
// _method (any case) is always taken for an override.
func FuzzMethodOverrideQuery(f *testing.F) {
	f.Add("_method=DELETE")
	f.Add("a=1&%5FMethod=x")
	f.Add("a;_method=1")
	f.Fuzz(func(t *testing.T, q string) {
		vals, _ := url.ParseQuery(q)
		for k := range vals {
			if strings.EqualFold(k, "_method") && !methodOverrideQuery(q) {
				t.Fatalf("%q: _method not found", q)
			}
		}
	})
}

// BenchmarkScrub: the cost scrub adds to every proxied request, for a
// browser's typical header set: with nothing to remove (the same map
// each time), and with a BFF cookie among others (a fresh copy each
// time; clone is that copy alone, to subtract).
func BenchmarkScrub(b *testing.B) {
	rt := &route{cfg: &config.Route{}, reserved: reservedNames([]string{"X-Ward-Subject", "Authorization", "Dpop"})}
	base := http.Header{
		"Accept": {"*/*"}, "Accept-Encoding": {"gzip, br"}, "Accept-Language": {"en"}, "User-Agent": {"Mozilla/5.0"},
		"Sec-Fetch-Site": {"same-origin"}, "Sec-Fetch-Mode": {"cors"}, "Referer": {"https://gw.example/app/"},
		"Authorization": {"DPoP x"}, "Dpop": {"y"}, "Cookie": {"theme=dark; lang=en"},
	}
	withWard := base.Clone()
	withWard["Cookie"] = []string{"theme=dark; __Host-ward-bff-app=0123456789abcdef; lang=en"}
	b.Run("plain", func(b *testing.B) {
		r := &http.Request{Header: base}
		b.ReportAllocs()
		for b.Loop() {
			rt.scrub(r)
		}
	})
	for _, bc := range []struct {
		name  string
		scrub bool
	}{{"clone", false}, {"ward_cookie", true}} {
		b.Run(bc.name, func(b *testing.B) {
			r := &http.Request{}
			b.ReportAllocs()
			for b.Loop() {
				r.Header = withWard.Clone()
				if bc.scrub {
					rt.scrub(r)
				}
			}
		})
	}
}
