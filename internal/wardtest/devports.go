package wardtest

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// DevAddrs are the fixed listeners of `ward serve --dev`.
var DevAddrs = []string{"127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:9002"}

// LockDevPorts serialises the tests that run `ward serve --dev` on its
// fixed ports (most run it on free ones instead, with --listen,
// --gateway-listen and --admin-listen, and need no lock): `go test ./...` runs packages in parallel, and two such
// tests at once would each find the ports taken. It waits (up to 10
// minutes) for an exclusive lock on a file in the temporary directory,
// held until the test ends, and then skips the test if another process
// holds a port anyway (a developer's own `ward serve --dev`).
func LockDevPorts(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "ward-dev-ports.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	locked := make(chan error, 1)
	go func() { locked <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-locked:
		if err != nil {
			f.Close()
			t.Fatalf("lock %s: %v", f.Name(), err)
		}
	case <-time.After(10 * time.Minute):
		f.Close() // the goroutine's Flock fails on the closed file
		t.Fatalf("waited 10 minutes for %s (another test holds the dev ports)", f.Name())
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
	for _, addr := range DevAddrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("ward serve --dev needs %s, which another process holds (%v) — probably a `ward serve --dev` of your own: stop it and run this test again (README, Quickstart)", addr, err)
		}
		ln.Close()
	}
}
