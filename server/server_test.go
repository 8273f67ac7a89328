package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/wardtest"
)

// running is a Server started by startServer: its banner, its logs and
// what Serve returned.
type running struct {
	stdout, stderr *wardtest.SyncBuffer
	cancel         context.CancelFunc
	done           chan struct{} // closed when Serve has returned err
	err            error
}

// startServer writes yaml to dir/ward.yaml and starts it as `ward serve
// --config` does, in process: config.Load, New, Banner, then Serve until
// stop or the test's end. The environment cannot change the file's store
// or keys.
func startServer(t *testing.T, dir, yaml string) *running {
	t.Helper()
	t.Setenv(config.EnvStoreDSN, "")
	t.Setenv(config.EnvKeyEncryptionKey, "")
	t.Setenv(config.EnvDPoPNonceSecret, "")
	path := filepath.Join(dir, "ward.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{stdout: &wardtest.SyncBuffer{}, stderr: &wardtest.SyncBuffer{}, done: make(chan struct{})}
	s, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.NewTextHandler(r.stderr, nil))})
	if err != nil {
		t.Fatalf("New: %v\n%s", err, r.stderr.String())
	}
	s.Banner(r.stdout)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		defer s.Close()
		r.err = s.Serve(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
		}
	})
	return r
}

// waitFor calls try until it returns nil, failing the test when Serve
// returns first or 30 s pass.
func (r *running) waitFor(t *testing.T, what string, try func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := try()
		if err == nil {
			return
		}
		select {
		case <-r.done:
			t.Fatalf("Serve returned %v before %s:\n%s", r.err, what, r.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v\n%s", what, err, r.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop asks for a shutdown and fails the test unless Serve returns nil
// within 40 s.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Fatalf("Serve returned %v after cancel:\n%s", r.err, r.stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

// writeKEK writes a random key-encryption key to dir/kek and returns the
// file's path.
func writeKEK(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "kek")
	if err := os.WriteFile(path, []byte(wardtest.RandKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// getOK gets u once and says why the answer was not 200.
func getOK(hc *http.Client, u string) error {
	resp, err := hc.Get(u)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return nil
}
