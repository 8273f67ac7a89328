package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wardauth/ward/internal/nginxconf"
)

// nginx in front of the upstream (-front nginx, front.go): Debian's nginx
// run as this user from a temporary prefix, in the foreground, one worker
// process, with or without auth_request to Ward's authorizer.

// nginxOptions is one nginx instance's configuration.
type nginxOptions struct {
	dir      string // prefix: configuration, pid, error log, temp paths
	listen   string // host:port clients send to
	upstream string // host:port of the upstream
	// ward is the authorizer's host:port: every request is checked with
	// auth_request as docs/INTEGRATIONS.md configures it; "" proxies
	// without a check.
	ward string
	// keepalive is how many idle connections nginx keeps to the upstream
	// and to Ward (its upstream blocks' keepalive, HTTP/1.1); 0 is nginx's
	// default, a new connection (HTTP/1.0) for every request and check.
	keepalive int
}

const nginxMain = `
worker_processes 1;
pid DIR/nginx.pid;
error_log DIR/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path DIR/body;
    proxy_temp_path DIR/proxy;
    fastcgi_temp_path DIR/fastcgi;
    uwsgi_temp_path DIR/uwsgi;
    scgi_temp_path DIR/scgi;
    upstream app {
        server UPSTREAM;
        KEEPALIVE
    }
WARDUPSTREAM
    server {
        listen LISTEN;
AUTHLOCATIONS
        location / {
PROTECT
            CONNECTION
            proxy_pass http://app;
        }
    }
}
`

// nginxConf is the configuration of o: worker_processes 1, access_log off,
// every path inside o.dir.
func nginxConf(o nginxOptions) string {
	keep, conn := "", "" // nginx's default: HTTP/1.0, a connection per request
	if o.keepalive > 0 {
		keep = fmt.Sprintf("keepalive %d;\n        keepalive_requests 1000000;", o.keepalive)
		conn = `proxy_http_version 1.1;
            proxy_set_header Connection "";`
	}
	wardUp, auth, protect := "", "", ""
	if o.ward != "" {
		wardUp = "    upstream ward {\n        server WARD;\n        KEEPALIVE\n    }"
		// docs/INTEGRATIONS.md's configuration ("nginx (auth_request)")
		auth, protect = nginxconf.Locations("ward", o.keepalive > 0), nginxconf.Protect
	}
	r := strings.NewReplacer("WARDUPSTREAM", wardUp, "AUTHLOCATIONS", auth, "PROTECT", protect)
	conf := r.Replace(nginxMain)
	return strings.NewReplacer("DIR", o.dir, "LISTEN", o.listen, "UPSTREAM", o.upstream, "WARD", o.ward,
		"KEEPALIVE", keep, "CONNECTION", conn).Replace(conf)
}

// nginxProc is a running nginx: its master process in the foreground.
type nginxProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the master has exited
	dir  string
}

// startNginx writes o's configuration, starts nginx and waits until it
// accepts connections on o.listen and its worker has started.
func startNginx(bin string, o nginxOptions) (*nginxProc, error) {
	conf := filepath.Join(o.dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConf(o)), 0o600); err != nil {
		return nil, err
	}
	n := &nginxProc{done: make(chan struct{}), dir: o.dir}
	n.cmd = exec.Command(bin, "-p", o.dir, "-c", conf, "-e", filepath.Join(o.dir, "error.log"), "-g", "daemon off;")
	// nginx gets SIGTERM (a fast shutdown, workers included) if this
	// process dies first. The signal follows the thread that started it,
	// so that thread is held, locked, for nginx's life.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer close(n.done)
		if err := n.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = n.cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	if err := n.waitReady(o.listen); err != nil {
		n.stop()
		return nil, err
	}
	return n, nil
}

// waitReady waits for nginx to accept on addr and to have a worker.
func (n *nginxProc) waitReady(addr string) error {
	for range 100 {
		select {
		case <-n.done:
			return fmt.Errorf("nginx exited: %s", n.errorLog())
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			if len(childPids(n.cmd.Process.Pid)) > 0 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("nginx did not start: %s", n.errorLog())
}

func (n *nginxProc) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return strings.TrimSpace(string(b))
}

// pids are the master's and its workers': nginx's CPU is their sum.
func (n *nginxProc) pids() []int {
	return append([]int{n.cmd.Process.Pid}, childPids(n.cmd.Process.Pid)...)
}

// stop shuts nginx down fast (SIGTERM) and waits for it.
func (n *nginxProc) stop() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	<-n.done
}

// childPids are the live children of process pid, from
// /proc/PID/task/TID/children of each of its threads.
func childPids(pid int) []int {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// freeAddr is a loopback host:port free a moment ago, for a process
// (nginx) that cannot report the port it was given.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

var errNoNginx = errors.New("nginx not found")

// findNginx is bin if it is executable.
func findNginx(bin string) (string, error) {
	p, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("%w at %s: %v", errNoNginx, bin, err)
	}
	return p, nil
}
