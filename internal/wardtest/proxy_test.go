package wardtest

import (
	"bufio"
	"io"
	"net"
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
