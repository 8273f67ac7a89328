package gateway_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
)

// TestMaxConnections: with max_connections 1, a second client is not served
// while the first holds its connection, and is served once it lets go.
func TestMaxConnections(t *testing.T) {
	e := newEnv(t, func(c *config.Gateway) { c.Limits.MaxConnections = 1 })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = e.gw.Serve(ctx, ln, nil) }()
	addr := ln.Addr().String()

	first, err := net.Dial("tcp", addr) // holds the only slot
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 1)
	go func() {
		c := &http.Client{Timeout: 5 * time.Second}
		resp, err := getGateway(c, "http://"+addr+"/public/x")
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	select {
	case code := <-got:
		t.Fatalf("second connection served (%d) while the first held the only slot", code)
	case <-time.After(300 * time.Millisecond):
	}
	first.Close()
	select {
	case code := <-got:
		if code != http.StatusOK {
			t.Fatalf("after the slot freed: %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second connection never served")
	}
}
