package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvRequire, set to 1 (as .ci/run does once the binaries are
// installed), makes a missing redis-server or redis-sentinel fail the
// test instead of skipping it.
const EnvRequire = "WARD_TEST_REQUIRE_REDIS_HA"

// Server is one redis-server or redis-sentinel process.
type Server struct {
	Addr string
	Port int
	cmd  *exec.Cmd
	done chan struct{}
	acl  Access
}

// Access, when User is set, makes the data nodes accept that ACL user
// only (the default user off), replicas and sentinels included; when TLS
// is set, every server (sentinels too) speaks TLS only.
type Access struct {
	User, Password string
	TLS            *TLS
}

// binary returns the path of name, or skips (fails when services are
// required) when it is not installed.
func binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := name + " is not installed (apt-get install redis-server redis-sentinel)"
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; set " + EnvRequire + "=1 to fail instead")
	}
	return p
}

// freePort returns a loopback port that is free, and whose cluster bus
// port (port+10000) is free too.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p+10000 > 65535 {
			continue
		}
		if b, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000)); err == nil {
			b.Close()
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}

// start runs bin with a config file of lines (plus port, bind and dir)
// and waits until it answers PING.
func start(t testing.TB, bin string, acl Access, lines ...string) *Server {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsave \"\"\nrepl-diskless-sync-delay 0\nappendonly no\nprotected-mode no\nloglevel warning\nlogfile %s\n",
		port, dir, filepath.Join(dir, "log"))
	if acl.User != "" {
		// Only the ACL user may connect, replication included.
		conf += "user default off\nuser " + acl.User + " on >" + acl.Password + " ~* &* +@all\n" +
			"masteruser " + acl.User + "\nmasterauth " + acl.Password + "\n"
	}
	if acl.TLS != nil {
		conf += acl.TLS.lines(strconv.Itoa(port))
	}
	for _, l := range lines {
		conf += l + "\n"
	}
	path := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, cmd: exec.Command(bin, path), done: make(chan struct{}), acl: acl}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Kill)
	c := s.Client()
	defer c.Close()
	waitFor(t, 10*time.Second, s.Addr+" answers", func(ctx context.Context) bool { return c.Ping(ctx).Err() == nil })
	return s
}

// Kill ends the process at once (SIGKILL: no shutdown, no last write
// to replicas) and waits for it.
func (s *Server) Kill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Freeze stops the process (SIGSTOP) until Thaw: it keeps its
// connections but answers nothing, as a server stalled or cut off.
func (s *Server) Freeze() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen process (SIGCONT).
func (s *Server) Thaw() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// DropReplicas closes this master's connections to its replicas
// (CLIENT KILL TYPE replica). With the replicas frozen they cannot
// reconnect: whatever the master acknowledges from then on is on the
// master only, as with a replica cut off by the network.
func (s *Server) DropReplicas(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	do(t, ctx, s, "client", "kill", "type", "replica")
}

// Client returns a plain client for this one process.
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, Username: s.acl.User, Password: s.acl.Password, TLSConfig: s.acl.TLS.config(), DialTimeout: time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1})
}

// waitFor polls ok every 50 ms until it holds, or fails the test after
// limit.
func waitFor(t testing.TB, limit time.Duration, what string, ok func(ctx context.Context) bool) {
	t.Helper()
	end := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		good := ok(ctx)
		cancel()
		if good {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("redistest: %s: not within %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
