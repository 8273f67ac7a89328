package wardtest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestProxyCutAndRestore: the proxy relays; Cut refuses new connections
// and ends open ones; Restore relays again on the same address.
func TestProxyCutAndRestore(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	p := NewProxy(t, ln.Addr().String())
	echo := func(c net.Conn) error {
		if _, err := io.WriteString(c, "ping\n"); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && line != "ping\n" {
			t.Fatalf("echo %q", line)
		}
		return err
	}
	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := echo(open); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Cut()
	if err := echo(open); err == nil {
		t.Error("a connection opened before the cut still relays")
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Error("the cut proxy accepted a connection")
	}
	p.Restore(t)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("after Restore: %v", err)
	}
	defer c.Close()
	if err := echo(c); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}

// TestProxyBlackhole: Blackhole keeps connections open but forwards
// nothing, either way, and a new connection is accepted and then hears
// nothing; Restore relays new connections while those held stay silent.
func TestProxyBlackhole(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var received atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					received.Add(1)
					_, _ = io.WriteString(c, line)
				}
			}()
		}
	}()
	p := NewProxy(t, ln.Addr().String())
	send := func(c net.Conn) error {
		_, err := io.WriteString(c, "ping\n")
		return err
	}
	recv := func(c net.Conn, within time.Duration) error {
		_ = c.SetReadDeadline(time.Now().Add(within))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && line != "ping\n" {
			t.Fatalf("echo %q", line)
		}
		return err
	}
	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := send(open); err != nil || recv(open, 2*time.Second) != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	p.Blackhole()
	before := received.Load()
	if err := send(open); err != nil {
		t.Fatalf("writing into the black hole: %v (it must look open)", err)
	}
	var ne net.Error
	if err := recv(open, 300*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read through the black hole: %v; want a timeout, not an answer or a close", err)
	}
	held, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("connecting during the black hole: %v (the connect must succeed)", err)
	}
	defer held.Close()
	if err := send(held); err != nil {
		t.Fatal(err)
	}
	if err := recv(held, 300*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("new connection in the black hole: %v; want a timeout", err)
	}
	if got := received.Load(); got != before {
		t.Fatalf("the target received %d lines through the black hole", got-before)
	}

	p.Restore(t)
	fresh, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("after Restore: %v", err)
	}
	defer fresh.Close()
	if err := send(fresh); err != nil || recv(fresh, 2*time.Second) != nil {
		t.Fatalf("a new connection after Restore does not relay")
	}
	if err := send(open); err != nil {
		t.Fatal(err)
	}
	if err := recv(open, 300*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a connection held by the black hole answered after Restore: %v", err)
	}
}

// TestProxyPause: during a pause the request reaches the target but its
// answer arrives only when the pause ends.
func TestProxyPause(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- line
		_, _ = io.WriteString(c, line)
	}()
	p := NewProxy(t, ln.Addr().String())
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const d = 300 * time.Millisecond
	p.Pause(d)
	start := time.Now()
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		t.Fatal(err)
	}
	if line := <-got; line != "ping\n" {
		t.Fatalf("target read %q", line)
	}
	if since := time.Since(start); since >= d {
		t.Fatalf("the request reached the target after %v, not during the pause", since)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("answer %q, %v", line, err)
	}
	if since := time.Since(start); since < d-10*time.Millisecond {
		t.Fatalf("answer after %v, before the %v pause ended", since, d)
	}
}
