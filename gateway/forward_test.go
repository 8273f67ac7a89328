package gateway

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/policy"
	"github.com/wardauth/ward/resource"
)

// saw is what one side of a proxied exchange observed.
type saw struct {
	Upstream string   // the request the upstream read, or why it could not
	Answers  []string // each answer the client read: status, headers, body, trailer
	Err      string   // how reading the last answer ended, when not cleanly
}

// upstreamOnce answers the first request on each connection with answer
// and closes the connection; what it read goes to got.
func upstreamOnce(t *testing.T, answer []byte) (addr string, got chan string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				r, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					got <- "unreadable: " + err.Error()
					return
				}
				got <- describeRequest(r)
				_, _ = c.Write(answer)
			}()
		}
	}()
	return ln.Addr().String(), got
}

func describeRequest(r *http.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s host=%q close=%v\n", r.Method, r.RequestURI, r.Proto, r.Host, r.Close)
	writeSorted(&b, r.Header)
	body, _ := io.ReadAll(r.Body)
	fmt.Fprintf(&b, "body=%q te=%q cl=%d", body, r.TransferEncoding, r.ContentLength)
	if r.Trailer != nil {
		fmt.Fprintf(&b, " trailer=%q", r.Trailer)
	}
	return b.String()
}

func writeSorted(b *strings.Builder, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "%s=%q\n", k, h[k])
	}
}

// exchange sends raw to a gateway serving rt through proxy with rec's
// identity, and describes what the upstream and the client saw.
func exchange(t *testing.T, direct bool, method, target, headers string, answer []byte, stripPrefix bool, base string, id *resource.Identity) saw {
	return exchangeRoute(t, direct, func(rc *config.Route) { rc.StripPrefix = stripPrefix }, method, target, headers, answer, base, id)
}

// exchangeRoute is exchange with the route changed by mod.
func exchangeRoute(t *testing.T, direct bool, mod func(*config.Route), method, target, headers string, answer []byte, base string, id *resource.Identity) saw {
	addr, got := upstreamOnce(t, answer)
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.Issuer, cfg.PublicURL = true, "https://issuer.example", "http://gw.example"
	cfg.Routes = []config.Route{{Name: "r", PathPrefix: "/p", Upstream: "http://" + addr + base, Unauthenticated: true}}
	if mod != nil {
		mod(&cfg.Routes[0])
	}
	g, err := New(&cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), reverseProxyOnly: !direct,
		Keys: resource.StaticKeys{}})
	if err != nil {
		t.Fatal(err)
	}
	rt := g.state.Load().routes[0]
	if direct != (rt.direct != nil) {
		t.Fatalf("direct path %v, want %v", rt.direct != nil, direct)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clean, err := policy.CleanPath(r.URL.EscapedPath())
		if err != nil {
			http.Error(w, "ambiguous", http.StatusBadRequest)
			return
		}
		g.proxy(&statusWriter{ResponseWriter: w}, r, rt, &record{route: "r", outcome: "ok", path: clean, id: id})
	}))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: gw.example\r\n%s\r\n", method, target, headers)
	var s saw
	br := bufio.NewReader(c)
	req := &http.Request{Method: method}
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			s.Err = "no answer"
			break
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d %s\n", resp.StatusCode, resp.Proto)
		resp.Header.Del("Date")
		body, err := io.ReadAll(resp.Body)
		framing := fmt.Sprintf("cl=%d te=%q", resp.ContentLength, resp.TransferEncoding)
		if len(body) == 0 && err == nil && (resp.ContentLength == -1 && len(resp.TransferEncoding) == 1 || resp.ContentLength == 0) {
			// A body of unknown length that turned out empty:
			// ReverseProxy flushes the headers from a timer that may or
			// may not run before the handler returns (chunked, or
			// Content-Length: 0); the direct path always flushes.
			resp.Header.Del("Content-Length")
			framing = "empty"
		}
		writeSorted(&b, resp.Header)
		fmt.Fprintf(&b, "body=%q %s\n", body, framing)
		writeSorted(&b, resp.Trailer)
		s.Answers = append(s.Answers, b.String())
		if err != nil {
			s.Err = "body cut short"
			break
		}
		if resp.StatusCode >= 200 {
			break
		}
	}
	select {
	case u := <-got:
		s.Upstream = strings.ReplaceAll(u, addr, "UPSTREAM")
	case <-time.After(100 * time.Millisecond):
		s.Upstream = "nothing"
	}
	return s
}

// FuzzDirectForward checks the direct path against httputil.ReverseProxy
// with the same route: the request the upstream reads and the answers the
// client reads must be the same, for any client request the gateway's
// server accepts and any bytes the upstream answers.
func FuzzDirectForward(f *testing.F) {
	f.Add(uint8(0), "/p/a/b?x=1&y=%41", "User-Agent: curl/8\r\nAccept: */*\r\nX-Ward-Subject: forged\r\nAuthorization: DPoP x\r\nDPoP: y\r\n",
		[]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"), "alice\x00app\x00a b\x00jkt")
	f.Add(uint8(1), "/p/", "X-Forwarded-For: 6.6.6.6\r\nForwarded: for=x\r\nX-Forwarded-Host: evil\r\nKeep-Alive: 1\r\nProxy-Authorization: x\r\nCookie: a=1\r\nCookie: b=2\r\n",
		[]byte("HTTP/1.1 200 OK\r\nConnection: X-Secret, keep-alive\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n2\r\nok\r\n0\r\nX-T: v\r\n\r\n"), "")
	f.Add(uint8(2), "/p/x", "User-Agent: a\r\nUser-Agent: b\r\nAccept:  spaced  \r\n",
		[]byte("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n"), "bob\x00\x00\x00")
	f.Add(uint8(3), "/p/stream", "Accept: text/event-stream\r\n",
		[]byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n"), "")
	f.Add(uint8(4), "/p/short", "",
		[]byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), "")
	f.Add(uint8(5), "/p/q?a;b=1", "", []byte("HTTP/1.1 204 No Content\r\n\r\n"), "")
	f.Add(uint8(6), "/p/%2e%2e/x", "", []byte("garbage"), "")
	f.Add(uint8(7), "/p/h", "Te: trailers\r\n", []byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nStrict-Transport-Security: max-age=1\r\n\r\nx"), "\x01evil\r\n\x00c\x00s\x00j")
	f.Add(uint8(8), "/p/head", "", []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), "")
	f.Add(uint8(9), "http://gw.example/p/abs?", "", []byte("HTTP/1.0 200 OK\r\n\r\nclose-delimited"), "")
	// The headers no upstream sees (headers.go): Ward's cookies, names
	// with '_' (kept on a route that allows them, sel&32, unless they
	// fold to a reserved name), method overrides, client addresses.
	f.Add(uint8(0), "/p/c", "Cookie: __Host-ward-bff-app=s1; theme=dark\r\nCookie:ward-session=s2 ;lang=en\r\nCookie: __HOST-WARD-BROWSER=s3\r\n",
		[]byte("HTTP/1.1 200 OK\r\nSet-Cookie: __Host-ward-bff-app=fixed; Path=/\r\nSet-Cookie: =ward-session=x\r\nSet-Cookie: theme=light\r\nContent-Length: 0\r\n\r\n"), "")
	f.Add(uint8(32), "/p/u", "X-Ward-SPIFFE_ID: spiffe://evil/admin\r\nX_Ward_Subject: admin\r\nX_Forwarded_For: 6.6.6.6\r\nX_App_Tag: kept\r\nx_http_method_override: DELETE\r\n",
		[]byte("HTTP/1.1 204 No Content\r\n\r\n"), "alice\x00app\x00s\x00j")
	f.Add(uint8(1), "/p/m", "X-HTTP-Method-Override: DELETE\r\nX-HTTP-Method: PUT\r\nX-Method-Override: PATCH\r\nX-Real-IP: 6.6.6.6\r\nTrue-Client-IP: 6.6.6.6\r\nX-Client-IP: 6.6.6.6\r\nX-Forwarded-Port: 1\r\nX-Original-URL: /admin\r\nCF-Connecting-IP: 6.6.6.6\r\n",
		[]byte("HTTP/1.1 204 No Content\r\n\r\n"), "")
	f.Add(uint8(34), "/p/o", "X-Ward.Subject: admin\r\nProxy: http://evil:3128\r\nX_Ok: 1\r\nX-Ok: 2\r\n", []byte("HTTP/1.1 204 No Content\r\n\r\n"), "")
	f.Fuzz(func(t *testing.T, sel uint8, target, headers string, answer []byte, ident string) {
		method := [...]string{"GET", "HEAD", "OPTIONS", "TRACE"}[sel%4]
		stripPrefix := sel&4 != 0
		base := [...]string{"", "/base/", "/b?k=v", "/"}[sel>>3%4]
		if strings.ContainsAny(target, " \r\n") || strings.Contains(headers, "\r\n\r\n") || !strings.HasSuffix(headers, "\r\n") && headers != "" {
			return // one request line and one header block
		}
		if l := strings.ToLower(headers); strings.Contains(l, "content-length") || strings.Contains(l, "transfer-encoding") {
			return // a body: never the direct path, and the client sends none
		}
		var id *resource.Identity
		if ident != "" {
			f := strings.SplitN(ident+"\x00\x00\x00", "\x00", 5)
			id = &resource.Identity{Subject: f[0], ClientID: f[1], Scopes: strings.Fields(f[2]), JKT: f[3]}
		}
		mod := func(rc *config.Route) { rc.StripPrefix, rc.AllowUnderscoreHeaders = stripPrefix, sel&32 != 0 }
		want := exchangeRoute(t, false, mod, method, target, headers, answer, base, id)
		got := exchangeRoute(t, true, mod, method, target, headers, answer, base, id)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s %q\n%s\ndirect path:\n%+v\nReverseProxy:\n%+v", method, target, headers, got, want)
		}
	})
}

// TestDirectForwardTaken checks which requests take the direct path.
func TestDirectForwardTaken(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want bool
	}{
		{"GET /p HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"HEAD /p?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"GET /p?x;y HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"GET /p?x=%zz HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"GET /p HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
		{"GET /p HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", false},
		{"GET /p HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n", false},
		{"GET /p HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx", false},
		{"GET /p HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", false},
		{"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", false},
		{"DELETE /p HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"GET /p HTTP/1.0\r\nHost: a\r\n\r\n", false}, // HTTP/1.0 closes by default
	} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tc.raw)))
		if err != nil {
			t.Fatal(err)
		}
		if got := directRequest(r); got != tc.want {
			t.Errorf("%q: direct %v, want %v", tc.raw, got, tc.want)
		}
	}
	ih := config.DefaultGateway().IdentityHeaders
	if !directNames(ih, "X-Ward-Spiffe-Id", "") {
		t.Error("default identity headers refused")
	}
	for _, bad := range []config.IdentityHeaders{
		{Subject: "X-Forwarded-For"}, {Subject: "User-Agent"}, {Subject: "X-A", Client: "X-A"}, {Scopes: "Connection"},
	} {
		if directNames(bad) {
			t.Errorf("%+v: direct path allowed", bad)
		}
	}
}

// TestDirectForwardUpstreamGone: an upstream that closes before answering
// gives 502 on both paths, with the security headers.
func TestDirectForwardUpstreamGone(t *testing.T) {
	for _, direct := range []bool{false, true} {
		s := exchange(t, direct, "GET", "/p/x", "", nil, false, "", nil)
		if len(s.Answers) != 1 || !strings.HasPrefix(s.Answers[0], "502 ") || !strings.Contains(s.Answers[0], "X-Content-Type-Options") {
			t.Errorf("direct %v: %+v", direct, s)
		}
	}
}

// TestUntypedAnswerNotSniffed: an upstream's answer without a
// Content-Type goes out without one on both paths; net/http would
// otherwise call this body text/html, which skips the CSP the gateway
// gives HTML.
func TestUntypedAnswerNotSniffed(t *testing.T) {
	body := "<html><script>alert(1)</script>"
	for _, answer := range []string{
		fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body),
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body),
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body),
	} {
		for _, direct := range []bool{false, true} {
			s := exchange(t, direct, "GET", "/p/x", "", []byte(answer), false, "", nil)
			last := s.Answers[len(s.Answers)-1]
			if !strings.HasPrefix(last, "200 ") || strings.Contains(last, "\nContent-Type=") || !strings.Contains(last, "alert") {
				t.Errorf("direct %v, %q:\n%s", direct, answer[:20], last)
			}
		}
	}
}

// TestDirectForwardConcurrent sends many requests at once over the direct
// path to a keep-alive upstream that answers each with its own path, a few
// of them slowly: every client must get the answer to its own request
// (connections are reused, never shared, and an answer never goes to
// another request).
func TestDirectForwardConcurrent(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "7") {
			time.Sleep(2 * time.Millisecond)
		}
		_, _ = io.WriteString(w, r.URL.Path+"?"+r.URL.RawQuery)
	}))
	defer up.Close()
	cfg := config.DefaultGateway()
	cfg.Enabled, cfg.Issuer, cfg.PublicURL = true, "https://issuer.example", "http://gw.example"
	cfg.Routes = []config.Route{{Name: "r", PathPrefix: "/p", Upstream: up.URL, Unauthenticated: true}}
	g, err := New(&cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Keys: resource.StaticKeys{}})
	if err != nil {
		t.Fatal(err)
	}
	if g.state.Load().routes[0].direct == nil {
		t.Fatal("no direct path")
	}
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	defer up.CloseClientConnections() // first: unblocks a gateway stuck on its upstream
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	errs := make(chan error, 16)
	for w := range 16 {
		go func() {
			for i := range 100 {
				want := fmt.Sprintf("/p/%d/%d?q=%d", w, i, w*1000+i)
				req, _ := http.NewRequest(http.MethodGet, srv.URL+want, nil)
				req.Host = "gw.example" // public_url's host
				resp, err := c.Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(body) != want {
					errs <- fmt.Errorf("asked %s, got %d %q (%v)", want, resp.StatusCode, body, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	rt := g.state.Load().routes[0]
	rt.direct.t.mu.Lock()
	idle := len(rt.direct.t.idle)
	rt.direct.t.mu.Unlock()
	if idle == 0 || idle > 16 {
		t.Errorf("%d idle upstream connections after 16 concurrent clients, want 1 to 16", idle)
	}
}
