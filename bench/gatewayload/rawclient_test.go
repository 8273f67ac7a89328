package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

const testToken = "tok.en.sig"

// newTestConn returns a raw connection to the first target of reqs, with
// a deadline so that a broken test fails instead of hanging.
func newTestConn(t *testing.T, reqs *rawRequests) *rawConn {
	t.Helper()
	rc := &rawConn{addr: reqs.addrs[0], deadline: time.Now().Add(5 * time.Second)}
	t.Cleanup(rc.close)
	return rc
}

func mustReqs(t *testing.T, urls []string, proofs []string, reuse bool) *rawRequests {
	t.Helper()
	r, err := newRawRequests(urls, testToken, proofs, reuse)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// connCounter counts the connections a test server accepts.
type connCounter struct {
	mu sync.Mutex
	n  int
}

func (c *connCounter) state(_ net.Conn, s http.ConnState) {
	if s == http.StateNew {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
}

func (c *connCounter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func newServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *connCounter) {
	t.Helper()
	var cc connCounter
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = cc.state
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &cc
}

// The raw client's request carries what the gateway reads from the
// net/http client's: path, Host, Authorization and DPoP; and a
// User-Agent. Answers with 200 are successes, kept alive on one
// connection.
func TestRawOK(t *testing.T) {
	type seen struct{ path, host, authz, proof, ua string }
	var mu sync.Mutex
	var got []seen
	srv, cc := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.URL.RequestURI(), r.Host, r.Header.Get("Authorization"), r.Header.Get("DPoP"), r.Header.Get("User-Agent")})
		mu.Unlock()
		w.Write([]byte("ok\n"))
	})
	reqs := mustReqs(t, []string{srv.URL + "/api/hello"}, []string{"p0", "p1", "p2"}, false)
	rc := newTestConn(t, reqs)
	for i := range 3 {
		req, target := reqs.get(i)
		if target != 0 {
			t.Fatalf("target %d", target)
		}
		if err := rc.do(req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	for i, s := range got {
		want := seen{"/api/hello", host, "DPoP " + testToken, fmt.Sprint("p", i), rawUserAgent}
		if s != want {
			t.Errorf("request %d: server saw %+v, want %+v", i, s, want)
		}
	}
	if len(got) != 3 || cc.get() != 1 {
		t.Errorf("%d requests over %d connections, want 3 over 1", len(got), cc.get())
	}
}

// A well-framed 401 is a failure; the connection stays usable.
func TestRawStatusFails(t *testing.T) {
	srv, cc := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("DPoP") == "bad" {
			http.Error(w, `{"error":"invalid_dpop_proof"}`, http.StatusUnauthorized)
			return
		}
		w.Write([]byte("ok\n"))
	})
	reqs := mustReqs(t, []string{srv.URL + "/api/hello"}, []string{"bad", "good"}, false)
	rc := newTestConn(t, reqs)
	req, _ := reqs.get(0)
	var se statusError
	if err := rc.do(req); !errors.As(err, &se) || se != 401 {
		t.Fatalf("401 answer: err %v, want status 401", err)
	}
	req, _ = reqs.get(1)
	if err := rc.do(req); err != nil {
		t.Fatalf("after a 401: %v", err)
	}
	if cc.get() != 1 {
		t.Errorf("%d connections, want 1", cc.get())
	}
}

// A server that closes the connection after each answer (Connection:
// close): every answer counts, and each request goes on a new connection.
func TestRawConnectionClose(t *testing.T) {
	srv, cc := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("ok\n"))
	})
	reqs := mustReqs(t, []string{srv.URL + "/api/hello"}, []string{"p"}, true)
	rc := newTestConn(t, reqs)
	for i := range 5 {
		req, _ := reqs.get(i)
		if err := rc.do(req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if rc.c != nil {
			t.Fatalf("request %d: connection kept after Connection: close", i)
		}
	}
	if cc.get() != 5 {
		t.Errorf("%d connections, want 5", cc.get())
	}
}

// A chunked answer (net/http's server chunks a body flushed before the
// handler returns) is read to its end: the next answer on the same
// connection is framed right.
func TestRawChunked(t *testing.T) {
	srv, cc := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("o"))
		w.(http.Flusher).Flush()
		w.Write([]byte(strings.Repeat("k", 10000)))
	})
	reqs := mustReqs(t, []string{srv.URL + "/api/hello"}, []string{"p"}, true)
	rc := newTestConn(t, reqs)
	for i := range 3 {
		req, _ := reqs.get(i)
		if err := rc.do(req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if cc.get() != 1 {
		t.Errorf("%d connections, want 1", cc.get())
	}
}

// rawServer serves each connection with serve, which reads requests from
// br and writes answers to c.
func rawServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) (addr string, conns func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			n++
			mu.Unlock()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			wg.Go(func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			})
		}
	})
	return ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// readRequest reads one request's head from br.
func readRequest(br *bufio.Reader) error {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			return nil
		}
	}
}

// An answer written in many small pieces, with pauses, is put together.
func TestRawSplitAnswer(t *testing.T) {
	answer := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\nok\n"
	addr, conns := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for readRequest(br) == nil {
			for i := 0; i < len(answer); i += 3 {
				if _, err := c.Write([]byte(answer[i:min(i+3, len(answer))])); err != nil {
					return
				}
				time.Sleep(200 * time.Microsecond)
			}
		}
	})
	reqs := mustReqs(t, []string{"http://" + addr + "/api/hello"}, []string{"p"}, true)
	rc := newTestConn(t, reqs)
	for i := range 3 {
		req, _ := reqs.get(i)
		if err := rc.do(req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if conns() != 1 {
		t.Errorf("%d connections, want 1", conns())
	}
}

// An answer without Content-Length or chunked coding (delimited by the
// connection's end) is refused as a failure, and the connection closed;
// the next request is sent on a new one.
func TestRawNoContentLength(t *testing.T) {
	addr, conns := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if readRequest(br) == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n")
		}
	})
	reqs := mustReqs(t, []string{"http://" + addr + "/api/hello"}, []string{"p"}, true)
	rc := newTestConn(t, reqs)
	for i := range 2 {
		req, _ := reqs.get(i)
		if err := rc.do(req); err == nil || !strings.Contains(err.Error(), "without Content-Length") {
			t.Fatalf("request %d: err %v, want a refusal", i, err)
		}
		if rc.c != nil {
			t.Fatalf("request %d: connection kept", i)
		}
	}
	if conns() != 2 {
		t.Errorf("%d connections, want 2", conns())
	}
}

// A connection that breaks mid-answer is a failure; the next request
// dials again.
func TestRawTruncated(t *testing.T) {
	first := true
	var mu sync.Mutex
	addr, conns := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for readRequest(br) == nil {
			mu.Lock()
			f := first
			first = false
			mu.Unlock()
			if f {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
		}
	})
	reqs := mustReqs(t, []string{"http://" + addr + "/api/hello"}, []string{"p"}, true)
	rc := newTestConn(t, reqs)
	req, _ := reqs.get(0)
	if err := rc.do(req); err == nil {
		t.Fatal("a cut-short body counted as an answer")
	}
	if err := rc.do(req); err != nil {
		t.Fatalf("after redial: %v", err)
	}
	if conns() != 2 {
		t.Errorf("%d connections, want 2", conns())
	}
}

// readResponse, one byte per read, on answers framed in every way it
// accepts or refuses; after each accepted one the next bytes must be
// "NEXT" (nothing of the answer left, nothing of what follows taken).
func TestRawReadResponse(t *testing.T) {
	for _, c := range []struct {
		name, answer string
		status       int
		keep         bool
		refused      bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n", 200, true, false},
		{"lf only", "HTTP/1.1 200 OK\nContent-Length: 3\n\nok\n", 200, true, false},
		{"no reason", "HTTP/1.1 401\r\ncontent-length: 2\r\n\r\n{}", 401, true, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=1\r\no\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n", 200, true, false},
		{"close", "HTTP/1.1 200 OK\r\nConnection: Keep-Alive, close\r\nContent-Length: 0\r\n\r\n", 200, false, false},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, false, false},
		{"http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 200, true, false},
		{"204 with length", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 204, true, false},
		{"no framing", "HTTP/1.1 200 OK\r\n\r\nok\n", 0, false, true},
		{"both framings", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, false, true},
		{"gzip coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 0, false, true},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nok\n", 0, false, true},
		{"signed length", "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nok\n", 0, false, true},
		{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\nok\n", 0, false, true},
		{"folded header", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 3\r\n\r\nok\n", 0, false, true},
		{"bad status", "HTTP/1.1 2000 OK\r\nContent-Length: 3\r\n\r\nok\n", 0, false, true},
		{"not http", "SSH-2.0-x\r\n", 0, false, true},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, false, true},
		{"chunk without crlf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nok\r\n0\r\n\r\n", 0, false, true},
		{"cut short", "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nok\n", 0, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc := &rawConn{br: bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(c.answer+"NEXT")), rawReadBuffer)}
			if c.name == "cut short" {
				rc.br.Reset(iotest.OneByteReader(strings.NewReader(c.answer)))
			}
			status, keep, err := rc.readResponse()
			if c.refused {
				if err == nil {
					t.Fatalf("accepted: status %d", status)
				}
				return
			}
			if err != nil || status != c.status || keep != c.keep {
				t.Fatalf("status %d keep %v err %v, want %d %v nil", status, keep, err, c.status, c.keep)
			}
			if rest, _ := io.ReadAll(rc.br); string(rest) != "NEXT" {
				t.Errorf("left %q, want NEXT", rest)
			}
		})
	}
}

// A 1xx answer is skipped for the final one.
func TestRawInformational(t *testing.T) {
	addr, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for readRequest(br) == nil {
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
		}
	})
	reqs := mustReqs(t, []string{"http://" + addr + "/"}, []string{"p"}, true)
	rc := newTestConn(t, reqs)
	for i := range 2 {
		req, _ := reqs.get(i)
		if err := rc.do(req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
}

// The loops: every request answered and counted once; without reuse,
// request i carries proof i and goes to target i%2, as with net/http's
// client.
func TestRawLoops(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{}
	var srvs []string
	for _, name := range []string{"a", "b"} {
		srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[name] = append(seen[name], r.Header.Get("DPoP"))
			mu.Unlock()
			if r.Header.Get("DPoP") == "fail" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Write([]byte("ok\n"))
		})
		srvs = append(srvs, srv.URL+"/api/hello")
	}
	var proofs []string
	for i := range 40 {
		proofs = append(proofs, fmt.Sprint(i))
	}
	procs := map[string][]int{}

	r := rawClosedLoop("closed", mustReqs(t, srvs, proofs, false), 4, 5*time.Second, procs)
	if r.ok != 40 || r.failed != 0 || len(r.lat) != 40 || r.late != nil {
		t.Fatalf("closed loop: ok %d failed %d latencies %d (%s)", r.ok, r.failed, len(r.lat), r.firstErr)
	}
	for name, ps := range seen {
		slices.Sort(ps)
		var want []string
		for i := range 40 {
			if i%2 == 0 == (name == "a") {
				want = append(want, fmt.Sprint(i))
			}
		}
		slices.Sort(want)
		if !slices.Equal(ps, want) {
			t.Errorf("server %s saw proofs %v, want %v", name, ps, want)
		}
	}

	for _, kind := range []string{pacerPrecise, pacerSleep} {
		r = rawOpenLoop("open", mustReqs(t, srvs[:1], []string{"p"}, true), 3, 1000, 50*time.Millisecond, kind, procs)
		if r.ok != 50 || r.failed != 0 || len(r.lat) != 50 || len(r.late) != 50 {
			t.Fatalf("open loop, %s pacer: ok %d failed %d latencies %d/%d (%s)", kind, r.ok, r.failed, len(r.lat), len(r.late), r.firstErr)
		}
		if r.elapsed < 49*time.Millisecond {
			t.Errorf("open loop of 50 requests at 1000/s, %s pacer, took %v", kind, r.elapsed)
		}
		if !strings.HasPrefix(r.pacer, kind+" (") {
			t.Errorf("open loop with the %s pacer reports pacer %q", kind, r.pacer)
		}
	}

	r = rawClosedLoop("closed, 401", mustReqs(t, srvs[:1], []string{"fail"}, true), 2, 20*time.Millisecond, procs)
	if r.ok != 0 || r.failed == 0 || r.firstErr != "status 401" {
		t.Fatalf("closed loop of 401s: ok %d failed %d first %q", r.ok, r.failed, r.firstErr)
	}
}
