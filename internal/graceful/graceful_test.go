package graceful

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// A request in flight when the context ends is answered before Serve
// returns nil, and the listener is closed.
func TestServeDrainsInFlight(t *testing.T) {
	ln := listen(t)
	entered, release := make(chan struct{}), make(chan struct{})
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "done")
	})}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, s, ln, Options{Grace: 10 * time.Second}) }()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-entered
	cancel()
	// Shutdown closes the listener while the request is still running.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts during the drain")
		}
	}
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("in-flight request: %q, want done", body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

// A request that outlives the grace is cut: Serve returns the deadline.
func TestServeGraceBoundsDrain(t *testing.T) {
	ln := listen(t)
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	s := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(entered)
		<-release
	})}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, s, ln, Options{Grace: 100 * time.Millisecond}) }()
	go func() {
		if resp, err := http.Get("http://" + ln.Addr().String()); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	select {
	case err := <-served:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Serve = %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the grace")
	}
}

// A server that cannot serve returns its error at once; BeforeShutdown
// runs only on a shutdown.
func TestServeFailureAndBeforeShutdown(t *testing.T) {
	ln := listen(t)
	ln.Close()
	called := false
	err := Serve(context.Background(), &http.Server{}, ln, Options{Grace: time.Second, BeforeShutdown: func() { called = true }})
	if err == nil || errors.Is(err, http.ErrServerClosed) || called {
		t.Errorf("Serve on a closed listener = %v (BeforeShutdown called: %v)", err, called)
	}
	ln = listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Serve(ctx, &http.Server{}, ln, Options{Grace: time.Second, BeforeShutdown: func() { called = true }}); err != nil || !called {
		t.Errorf("Serve after cancel = %v (BeforeShutdown called: %v)", err, called)
	}
}
