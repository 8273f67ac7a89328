package wardtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DefaultPostgresBin is where Debian's postgresql-15 package puts the
// server binaries. WARD_TEST_POSTGRES_BIN overrides it; without either,
// the newest /usr/lib/postgresql/*/bin is used.
const DefaultPostgresBin = "/usr/lib/postgresql/15/bin"

// postgresBin is the directory of the server binaries the pair runs.
func postgresBin() string {
	if b := os.Getenv("WARD_TEST_POSTGRES_BIN"); b != "" {
		return b
	}
	if _, err := os.Stat(filepath.Join(DefaultPostgresBin, "pg_basebackup")); err == nil {
		return DefaultPostgresBin
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestV := DefaultPostgresBin, 0
	for _, d := range dirs {
		if v, err := strconv.Atoi(filepath.Base(filepath.Dir(d))); err == nil && v > bestV {
			best, bestV = d, v
		}
	}
	return best
}

// PostgresPair is a PostgreSQL primary and a streaming standby started by
// the test on free loopback ports, in a temporary directory, with
// synchronous replication (synchronous_standby_names '*',
// synchronous_commit on): the primary acknowledges a commit only once the
// standby has flushed it, so a standby promoted after the primary dies
// holds every acknowledged commit. The standby's own
// synchronous_standby_names is empty: once promoted it is a primary with
// no standby, which would otherwise wait forever on every commit.
type PostgresPair struct {
	t                testing.TB
	bin, dir, asUser string
	// PrimaryPort and StandbyPort are the servers' loopback ports.
	PrimaryPort, StandbyPort int
}

// StartPostgresPair initialises and starts a primary, clones it with
// pg_basebackup into a standby, starts that, and waits until the standby
// is the primary's synchronous standby. Both are stopped, and the
// directory removed, at the test's end. It skips (or fails, see
// Unavailable) when the server binaries are absent, or when the test runs
// as root and there is no postgres user to run them as (PostgreSQL
// refuses to run as root).
func StartPostgresPair(t testing.TB) *PostgresPair {
	t.Helper()
	bin := postgresBin()
	if _, err := os.Stat(filepath.Join(bin, "pg_basebackup")); err != nil {
		Unavailable(t, fmt.Sprintf("PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) not found in %s (set WARD_TEST_POSTGRES_BIN; Debian: apt-get install postgresql)", bin))
	}
	p := &PostgresPair{t: t, bin: bin, PrimaryPort: freePort(t), StandbyPort: freePort(t)}
	dir, err := os.MkdirTemp("", "ward-pgpair-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			Unavailable(t, "running as root and there is no postgres user to run the PostgreSQL servers as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.asUser = "postgres"
	}
	p.initPrimary()
	p.cloneStandby()
	p.waitSync()
	return p
}

func freePort(t testing.TB) int {
	_, port, _ := net.SplitHostPort(FreeAddr(t))
	n, _ := strconv.Atoi(port)
	return n
}

// run runs a server binary as the postgres user (when root) and fails
// the test, with its output, when it fails.
func (p *PostgresPair) run(name string, args ...string) {
	p.t.Helper()
	path := filepath.Join(p.bin, name)
	cmd := exec.Command(path, args...)
	if p.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", p.asUser, "--", path}, args...)...)
	}
	cmd.Dir = p.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (p *PostgresPair) data(name string) string { return filepath.Join(p.dir, name) }

// appendConf adds settings to a data directory's postgresql.conf, as the
// postgres user (the file is theirs).
func (p *PostgresPair) appendConf(name string, lines ...string) {
	p.t.Helper()
	f, err := os.OpenFile(filepath.Join(p.data(name), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n" + strings.Join(lines, "\n") + "\n"); err != nil {
		p.t.Fatal(err)
	}
}

func (p *PostgresPair) start(name string) {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.data(name), "-l", p.data(name)+".log", "-w", "-t", "30", "start")
	p.t.Cleanup(func() {
		// Immediate: the test's end need not wait for a checkpoint. A
		// server already stopped makes pg_ctl fail, which is fine here.
		cmd := exec.Command(filepath.Join(p.bin, "pg_ctl"), "-D", p.data(name), "-m", "immediate", "stop")
		if p.asUser != "" {
			cmd = exec.Command("runuser", "-u", p.asUser, "--", filepath.Join(p.bin, "pg_ctl"), "-D", p.data(name), "-m", "immediate", "stop")
		}
		_ = cmd.Run()
	})
}

func (p *PostgresPair) initPrimary() {
	p.t.Helper()
	p.run("initdb", "-D", p.data("primary"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	p.appendConf("primary",
		"port = "+strconv.Itoa(p.PrimaryPort),
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = '"+p.dir+"'",
		"synchronous_standby_names = '*'",
		"synchronous_commit = on",
		// Durability against a host crash is not what this pair tests;
		// replication is.
		"fsync = off",
		"max_connections = 60",
	)
	p.start("primary")
}

func (p *PostgresPair) cloneStandby() {
	p.t.Helper()
	p.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(p.PrimaryPort), "-U", "postgres",
		"-D", p.data("standby"), "-R", "-X", "stream", "-c", "fast", "--no-sync")
	p.appendConf("standby",
		"port = "+strconv.Itoa(p.StandbyPort),
		"synchronous_standby_names = ''",
	)
	p.start("standby")
}

// waitSync waits until the primary reports its standby as synchronous.
func (p *PostgresPair) waitSync() {
	p.t.Helper()
	db, err := sql.Open("pgx", p.hostDSN(p.PrimaryPort))
	if err != nil {
		p.t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		var state string
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := db.QueryRowContext(ctx, `SELECT sync_state FROM pg_stat_replication LIMIT 1`).Scan(&state)
		cancel()
		if err == nil && state == "sync" {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the standby did not become synchronous: %q %v", state, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *PostgresPair) hostDSN(port int) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
}

// DSN names both servers, primary first, with
// target_session_attrs=read-write: a client connects to whichever of them
// accepts writes.
func (p *PostgresPair) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write",
		p.PrimaryPort, p.StandbyPort)
}

// KillPrimary stops the primary at once, as a crash would (pg_ctl stop
// -m immediate: no checkpoint, connections cut).
func (p *PostgresPair) KillPrimary() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.data("primary"), "-m", "immediate", "-w", "stop")
}

// Promote turns the standby into the primary (pg_ctl promote) and waits
// until it accepts writes.
func (p *PostgresPair) Promote() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.data("standby"), "-w", "-t", "30", "promote")
}
