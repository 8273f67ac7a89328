package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/mtls/mtlstest"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestServeMaxConnections: `ward serve` with limits.max_connections 1 on a
// TLS listener does not serve a second client while a first holds the
// only connection (not even the TLS handshake), serves it once the first
// lets go, and returns cleanly when its context is cancelled.
func TestServeMaxConnections(t *testing.T) {
	t.Setenv(config.EnvStoreDSN, "")
	t.Setenv(config.EnvKeyEncryptionKey, "")
	t.Setenv(config.EnvDPoPNonceSecret, "")
	// serve tunes the process's GC; give the other tests theirs back.
	old := debug.SetGCPercent(100)
	debug.SetGCPercent(old)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	dir := t.TempDir()
	ca := mtlstest.NewCA(t)
	certFile, keyFile := ca.Issue(t, mtlstest.Options{
		CommonName: "127.0.0.1", IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ServerOnly: true,
	}).WriteFiles(t, dir, "server")
	kek := make([]byte, 32)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	kekFile := filepath.Join(dir, "kek")
	if err := os.WriteFile(kekFile, []byte(base64.StdEncoding.EncodeToString(kek)), 0o600); err != nil {
		t.Fatal(err)
	}
	// A free loopback port: taken, then released for serve to listen on.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	issuer := "https://" + addr
	cfgFile := filepath.Join(dir, "ward.yaml")
	yaml := fmt.Sprintf(`issuer: %s
listen: %s
tls: {cert_file: %q, key_file: %q}
data_dir: %q
keys: {kek_file: %q}
limits: {max_connections: 1}
`, issuer, addr, certFile, keyFile, dir, kekFile)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		done <- run(ctx, []string{"serve", "--config", cfgFile}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
		}
	})

	// One connection per request, closed by the server after its
	// response: no idle keep-alive connection holds the only slot.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS13},
		DisableKeepAlives: true,
	}}
	metadata := issuer + "/.well-known/oauth-authorization-server"
	get := func() (int, error) {
		resp, err := hc.Get(metadata)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, err := get()
		if err == nil && code == http.StatusOK {
			break
		}
		select {
		case c := <-done:
			t.Fatalf("serve exited with %d before serving:\n%s", c, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never answered (%d, %v):\n%s", code, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The first client holds the only connection (TCP only: the slot is
	// taken at accept, before any TLS byte).
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	time.Sleep(100 * time.Millisecond) // let the server accept it
	got := make(chan error, 1)
	go func() {
		code, err := get()
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("status %d", code)
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("second client answered (err %v) while the first held the only connection", err)
	case <-time.After(500 * time.Millisecond):
	}
	first.Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("after the slot freed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second client never served after the first closed")
	}

	cancel()
	select {
	case c := <-done:
		if c != 0 {
			t.Fatalf("serve returned %d after cancel:\n%s", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
}
