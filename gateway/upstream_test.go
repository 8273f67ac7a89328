package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rawUpstream accepts connections and answers each request read on them
// with answer(i, request number on the connection), then closes the
// connection if close says so.
func rawUpstream(t testing.TB, answer func(conn, req int, c net.Conn) (reply []byte, closeAfter bool)) (addr string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			i := int(conns.Add(1)) - 1
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					reply, closeAfter := answer(i, n, c)
					if _, err := c.Write(reply); err != nil || closeAfter {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), conns
}

func testTransports(addr string) (*http.Transport, *upstreamTransport) {
	std := &http.Transport{DisableCompression: true, ResponseHeaderTimeout: 2 * time.Second, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}
	return std, newUpstreamTransport(addr, std.Clone())
}

type outcome struct {
	err     bool
	status  int
	header  http.Header
	length  int64
	te      []string
	close   bool
	body    []byte
	bodyErr bool
}

func roundTrip(rt http.RoundTripper, method, u string) outcome {
	req, _ := http.NewRequest(method, u, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return outcome{err: true}
	}
	body, berr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return outcome{status: resp.StatusCode, header: resp.Header, length: resp.ContentLength, te: resp.TransferEncoding,
		close: resp.Close, body: body, bodyErr: berr != nil}
}

// FuzzUpstreamTransport checks upstreamTransport against http.Transport,
// the library it replaces for bodyless requests: for any bytes an
// upstream answers with, both fail, or both give the same status, headers,
// length, body and body error. The one difference: a 101 Switching
// Protocols to a request that did not ask for it is an error here
// (http.Transport returns it, and ReverseProxy then refuses it with 502).
func FuzzUpstreamTransport(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\nmissing",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"HTTP/1.1 999 Odd\r\nX: a\r\nX: b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
		"garbage",
		"",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, head bool) {
		addr, _ := rawUpstream(t, func(int, int, net.Conn) ([]byte, bool) { return raw, true })
		std, ours := testTransports(addr)
		defer std.CloseIdleConnections()
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		u := "http://" + addr + "/x"
		if !ours.fast(mustRequest(method, u)) {
			t.Fatal("not on the synchronous path")
		}
		want, got := roundTrip(std, method, u), roundTrip(ours, method, u)
		if want.status == http.StatusSwitchingProtocols && got.err {
			return
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("answer %q:\nhttp.Transport      %+v\nupstreamTransport   %+v", raw, want, got)
		}
	})
}

func mustRequest(method, u string) *http.Request {
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		panic(err)
	}
	return r
}

// An answer followed by bytes nobody asked for, in the same packet or
// while the connection is idle: the next request must not receive them,
// so it goes out on a new connection.
func TestUpstreamTransportUnsolicitedBytes(t *testing.T) {
	const evil = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
	for _, later := range []bool{false, true} {
		stray := make(chan struct{})
		addr, conns := rawUpstream(t, func(conn, req int, c net.Conn) ([]byte, bool) {
			if conn > 0 {
				return []byte("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood"), false
			}
			ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			if later {
				go func() { <-stray; _, _ = c.Write([]byte(evil)) }()
				return []byte(ok), false
			}
			return []byte(ok + evil), false
		})
		_, ours := testTransports(addr)
		if o := roundTrip(ours, "GET", "http://"+addr+"/"); string(o.body) != "ok" {
			t.Fatalf("first: %+v", o)
		}
		close(stray)
		time.Sleep(50 * time.Millisecond)
		if o := roundTrip(ours, "GET", "http://"+addr+"/"); string(o.body) != "good" {
			t.Fatalf("later=%v: second request got %+v", later, o)
		}
		if n := conns.Load(); n != 2 {
			t.Errorf("later=%v: %d connections, want 2", later, n)
		}
	}
}

// An upstream that closes its idle connections: the next request is
// carried on a new connection and succeeds.
func TestUpstreamTransportStaleConnection(t *testing.T) {
	addr, conns := rawUpstream(t, func(conn, req int, _ net.Conn) ([]byte, bool) {
		return []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), true // no Connection: close
	})
	_, ours := testTransports(addr)
	for i := range 3 {
		if o := roundTrip(ours, "GET", "http://"+addr+"/"); o.err || string(o.body) != "ok" {
			t.Fatalf("request %d: %+v", i, o)
		}
		time.Sleep(20 * time.Millisecond) // let the close arrive
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

// Keep-alive works: many requests, one connection.
func TestUpstreamTransportReuse(t *testing.T) {
	addr, conns := rawUpstream(t, func(conn, req int, _ net.Conn) ([]byte, bool) {
		return []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), false
	})
	_, ours := testTransports(addr)
	for i := range 20 {
		if o := roundTrip(ours, "GET", "http://"+addr+"/"); o.err || string(o.body) != "ok" {
			t.Fatalf("request %d: %+v", i, o)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// A body not read to its end closes the connection.
func TestUpstreamTransportEarlyClose(t *testing.T) {
	addr, conns := rawUpstream(t, func(conn, req int, _ net.Conn) ([]byte, bool) {
		return []byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"), false
	})
	_, ours := testTransports(addr)
	for range 2 {
		resp, err := ours.RoundTrip(mustRequest("GET", "http://"+addr+"/"))
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 3)
		_, _ = io.ReadFull(resp.Body, b)
		resp.Body.Close()
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// Requests with a body, other methods and upgrades go to http.Transport.
func TestUpstreamTransportFallback(t *testing.T) {
	_, ours := testTransports("127.0.0.1:1")
	for _, r := range []*http.Request{
		mustRequest("POST", "http://127.0.0.1:1/"),
		func() *http.Request {
			r, _ := http.NewRequest("GET", "http://127.0.0.1:1/", bytes.NewReader([]byte("x")))
			return r
		}(),
		func() *http.Request {
			r := mustRequest("GET", "http://127.0.0.1:1/")
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "websocket")
			return r
		}(),
		mustRequest("GET", "https://127.0.0.1:1/"),
	} {
		if ours.fast(r) {
			t.Errorf("%s %s %v: on the synchronous path", r.Method, r.URL, r.Header)
		}
	}
	if !strings.HasSuffix(newUpstreamTransport("example.com", &http.Transport{}).addr, ":80") {
		t.Error("no default port")
	}
}
