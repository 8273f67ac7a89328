package wardtest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP relay on a loopback port to a target address, which a
// test can cut (Cut: stop listening and drop every relayed connection),
// restore (Restore: listen again on the same port) and pause (Pause: hold
// the target's answers for a while). It makes a service unreachable, or
// slow, for one process without touching the service itself.
type Proxy struct {
	addr, target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup

	paused atomic.Int64 // answers are held until this Unix time (ns)
}

// NewProxy starts relaying a free loopback port to target; the proxy is
// closed at the test's end.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{addr: ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
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
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Pause holds everything the target sends for d from now, as a server
// stopped for d (a fork, a long command, a GC pause) would: requests still
// reach the target and run there, but their answers reach the client only
// when the pause ends. Connections accepted meanwhile are relayed the same
// way. A long d makes a black hole: connections open, nothing answers.
func (p *Proxy) Pause(d time.Duration) { p.paused.Store(time.Now().Add(d).UnixNano()) }

// hold waits until no pause is in force, or until the proxy is cut.
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

// answer copies the target's bytes to the client, each read held while a
// pause is in force.
func (p *Proxy) answer(c, u net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := u.Read(buf)
		if n > 0 && (!p.hold() || writeAll(c, buf[:n]) != nil) {
			return
		}
		if err != nil {
			return
		}
	}
}

func writeAll(c net.Conn, b []byte) error {
	_, err := c.Write(b)
	return err
}

// Restore listens on the same port again.
func (p *Proxy) Restore(t testing.TB) {
	t.Helper()
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

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil { // cut meanwhile
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) relay(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, u) {
		c.Close()
		u.Close()
		return
	}
	done := make(chan struct{}, 2)
	end := func(a, b net.Conn) { a.Close(); b.Close(); done <- struct{}{} }
	go func() { _, _ = io.Copy(u, c); end(u, c) }()
	go func() { p.answer(c, u); end(c, u) }()
	<-done
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
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
