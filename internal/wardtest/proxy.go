package wardtest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP relay on a loopback port to a target address, which a
// test can cut (Cut: stop listening and drop every relayed connection),
// black-hole (Blackhole: keep every connection open but forward nothing,
// as a silent network partition does) and restore (Restore: relay new
// connections again). It makes a service unreachable for one process
// without touching the service itself.
type Proxy struct {
	addr, target string

	mu     sync.Mutex
	ln     net.Listener
	conns  map[*relay]struct{}
	holing bool // Blackhole is in effect: new connections are held too
	wg     sync.WaitGroup

	paused atomic.Int64 // answers are held until this Unix time (ns)
}

// relay is one client connection and, unless it was accepted during a
// black hole, its connection to the target.
type relay struct {
	p              *Proxy
	client, target net.Conn
	// silent: forward nothing either way, and close nothing towards the
	// client; set by Blackhole, never cleared.
	silent atomic.Bool
}

// close ends both sides.
func (r *relay) close() {
	r.client.Close()
	if r.target != nil {
		r.target.Close()
	}
}

// NewProxy starts relaying a free loopback port to target; the proxy is
// closed at the test's end.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{addr: ln.Addr().String(), target: target, conns: map[*relay]struct{}{}}
	p.serve(ln)
	t.Cleanup(func() { p.Cut(); p.wg.Wait() })
	return p
}

// Addr is the proxy's host:port, to give the process under test.
func (p *Proxy) Addr() string { return p.addr }

// Cut closes the listener and every relayed connection: new connections
// are refused and open ones see a reset or EOF.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.holing = false
	for r := range p.conns {
		r.close()
		delete(p.conns, r)
	}
}

// Blackhole stops forwarding without closing anything: open connections
// stay open but nothing sent either way arrives, and new connections are
// accepted (the client's connect succeeds) and then hear nothing. A
// connection held this way stays silent until Cut or the test's end, even
// after Restore, as one whose packets were lost would: a client that uses
// it again waits for an answer that never comes.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holing = true
	for r := range p.conns {
		r.silent.Store(true)
	}
}

// Pause holds everything the target sends for d from now, as a server
// stopped for d (a fork, a long command, a GC pause) would: requests still
// reach the target and run there, but their answers reach the client only
// when the pause ends. Connections accepted meanwhile are relayed the same
// way.
func (p *Proxy) Pause(d time.Duration) { p.paused.Store(time.Now().Add(d).UnixNano()) }

// hold waits until no pause is in force; false when the proxy was cut
// meanwhile.
func (p *Proxy) hold() bool {
	for {
		wait := time.Duration(p.paused.Load() - time.Now().UnixNano())
		if wait <= 0 {
			return true
		}
		p.mu.Lock()
		cut := p.ln == nil
		p.mu.Unlock()
		if cut {
			return false
		}
		time.Sleep(min(wait, 5*time.Millisecond))
	}
}

// Restore relays new connections again: after Cut it listens on the same
// port again; after Blackhole it dials the target for each new connection
// (the connections held by the black hole stay silent).
func (p *Proxy) Restore(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	p.holing = false
	cut := p.ln == nil
	p.mu.Unlock()
	if !cut {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy: listening again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.relay(c) }()
		}
	}()
}

// track registers r; false when the proxy was cut meanwhile.
func (p *Proxy) track(r *relay) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	if p.holing {
		r.silent.Store(true)
	}
	p.conns[r] = struct{}{}
	return true
}

func (p *Proxy) relay(c net.Conn) {
	r := &relay{p: p, client: c}
	p.mu.Lock()
	holing := p.holing
	p.mu.Unlock()
	if !holing {
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			return
		}
		r.target = u
	}
	if !p.track(r) {
		r.close()
		return
	}
	if r.target == nil {
		// Accepted in a black hole: read what the client sends, answer
		// nothing, until it closes or the proxy is cut.
		r.pipe(nil, c)
	} else {
		done := make(chan struct{})
		go func() { r.pipe(c, r.target); close(done) }()
		r.pipe(r.target, c)
		<-done
	}
	r.close()
	p.mu.Lock()
	delete(p.conns, r)
	p.mu.Unlock()
}

// pipe copies src to dst until src ends, discarding what it reads while
// the relay is silent. When src ends it closes the target side only while
// the relay forwards; a silent relay ends only when the client side's
// reads end (the client closed it, or Cut did), so the client never
// learns that the target went away.
func (r *relay) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && src == r.target && !r.p.hold() {
			r.close()
			return
		}
		if n > 0 && dst != nil && !r.silent.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil && !r.silent.Load() {
				r.close()
				return
			}
		}
		if err != nil {
			if src == r.client || !r.silent.Load() {
				r.close()
			}
			return
		}
	}
}

// SilentServer listens on a free loopback port, accepts every connection
// and never answers, as a stopped or black-holed server does; it returns
// its address. It is closed at the test's end.
func SilentServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}
