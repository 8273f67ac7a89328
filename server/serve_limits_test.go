package server

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/mtls/mtlstest"
)

// TestServeMaxConnections: `ward serve` with limits.max_connections 1 on a
// TLS listener does not serve a second client while a first holds the
// only connection (not even the TLS handshake), serves it once the first
// lets go, and returns cleanly when its context is cancelled.
func TestServeMaxConnections(t *testing.T) {
	dir := t.TempDir()
	ca := mtlstest.NewCA(t)
	certFile, keyFile := ca.Issue(t, mtlstest.Options{
		CommonName: "127.0.0.1", IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ServerOnly: true,
	}).WriteFiles(t, dir, "server")
	kekFile := writeKEK(t, dir)
	addr := wardtest.FreeAddr(t)
	issuer := "https://" + addr
	r := startServer(t, dir, fmt.Sprintf(`issuer: %s
listen: %s
tls: {cert_file: %q, key_file: %q}
data_dir: %q
keys: {kek_file: %q}
limits: {max_connections: 1}
`, issuer, addr, certFile, keyFile, dir, kekFile))

	// One connection per request, closed by the server after its
	// response: no idle keep-alive connection holds the only slot.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS13},
		DisableKeepAlives: true,
	}}
	metadata := issuer + "/.well-known/oauth-authorization-server"
	get := func() error { return getOK(hc, metadata) }
	r.waitFor(t, "serve answers", get)

	// The first client holds the only connection (TCP only: the slot is
	// taken at accept, before any TLS byte).
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	time.Sleep(100 * time.Millisecond) // let the server accept it
	got := make(chan error, 1)
	go func() { got <- get() }()
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

	r.stop(t)
}
