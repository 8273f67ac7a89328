package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testNginx = "/usr/sbin/nginx"

func needNginx(t *testing.T) string {
	bin, err := findNginx(testNginx)
	if err != nil {
		t.Skip(err)
	}
	return bin
}

func TestNginxConf(t *testing.T) {
	o := nginxOptions{dir: "/tmp/x", listen: "127.0.0.1:1", upstream: "127.0.0.1:2", keepalive: 8}
	plain := nginxConf(o)
	o.ward = "127.0.0.1:3"
	auth := nginxConf(o)
	for name, conf := range map[string]string{"plain": plain, "auth": auth} {
		for _, want := range []string{"worker_processes 1;", "access_log off;", "pid /tmp/x/nginx.pid;", "listen 127.0.0.1:1;",
			"server 127.0.0.1:2;", "proxy_pass http://app;", "keepalive 8;", "proxy_http_version 1.1;"} {
			if !strings.Contains(conf, want) {
				t.Errorf("%s: no %q in\n%s", name, want, conf)
			}
		}
		// Every placeholder is replaced.
		if m := regexp.MustCompile(`\b(DIR|LISTEN|UPSTREAM|WARD|KEEPALIVE|CONNECTION|WARDUPSTREAM|AUTHLOCATIONS|PROTECT)\b`).FindAllString(conf, -1); len(m) > 0 {
			t.Errorf("%s: placeholders left: %v", name, m)
		}
	}
	if strings.Contains(plain, "auth_request") || strings.Contains(plain, "upstream ward") {
		t.Errorf("plain: a check:\n%s", plain)
	}
	for _, want := range []string{"auth_request /_ward/authorize;", "server 127.0.0.1:3;", "proxy_pass http://ward/_ward/authorize;",
		"proxy_set_header X-Forwarded-Host $http_host;", `proxy_set_header DPoP "";`} {
		if !strings.Contains(auth, want) {
			t.Errorf("auth: no %q", want)
		}
	}
	o.keepalive = 0
	if c := nginxConf(o); strings.Contains(c, "keepalive ") || strings.Contains(c, "proxy_http_version") {
		t.Errorf("keepalive 0: still keep-alive:\n%s", c)
	}
}

// TestNginxConfValid: nginx -t accepts both configurations.
func TestNginxConfValid(t *testing.T) {
	bin := needNginx(t)
	for _, ward := range []string{"", "127.0.0.1:3"} {
		for _, keep := range []int{0, 32} {
			dir := t.TempDir()
			conf := filepath.Join(dir, "nginx.conf")
			o := nginxOptions{dir: dir, listen: "127.0.0.1:1", upstream: "127.0.0.1:2", ward: ward, keepalive: keep}
			if err := os.WriteFile(conf, []byte(nginxConf(o)), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "-t", "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")).CombinedOutput()
			if err != nil {
				t.Errorf("ward %q keepalive %d: nginx -t: %v\n%s", ward, keep, err, out)
			}
		}
	}
}

// TestStartNginx: nginx alone proxies to an upstream; its processes are
// a master and one worker, and stop ends them.
func TestStartNginx(t *testing.T) {
	bin := needNginx(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	n, err := startNginx(bin, nginxOptions{dir: t.TempDir(), listen: addr, upstream: strings.TrimPrefix(up.URL, "http://"), keepalive: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer n.stop()
	resp, err := http.Get("http://" + addr + "/api/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("through nginx: %d %q", resp.StatusCode, body)
	}
	pids := n.pids()
	if len(pids) != 2 || pids[0] != n.cmd.Process.Pid {
		t.Fatalf("pids %v: want the master %d and one worker", pids, n.cmd.Process.Pid)
	}
	n.stop()
	for _, p := range pids {
		if err := syscall.Kill(p, 0); err == nil {
			t.Errorf("process %d still runs after stop", p)
		}
	}
}

// TestChildPids: a shell's two background children are found, and
// nothing for a process that is gone.
func TestChildPids(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Process.Kill(); cmd.Wait() }()
	var kids []int
	for deadline := time.Now().Add(10 * time.Second); len(kids) < 2 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		kids = childPids(cmd.Process.Pid)
	}
	if len(kids) != 2 {
		t.Fatalf("children %v, want 2", kids)
	}
	for _, k := range kids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(k) + "/comm")
		if err != nil || strings.TrimSpace(string(b)) != "sleep" {
			t.Errorf("child %d: %q %v", k, b, err)
		}
		syscall.Kill(k, syscall.SIGKILL)
	}
	if got := childPids(1 << 30); got != nil {
		t.Errorf("no such process: %v", got)
	}
}

func TestSpreadOf(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want spread
	}{
		{[]float64{3, 1, 2}, spread{2, 1, 3}},
		{[]float64{4, 1, 3, 2}, spread{2.5, 1, 4}},
		{[]float64{5}, spread{5, 5, 5}},
		{nil, spread{}},
	} {
		in := slices.Clone(c.xs)
		if got := spreadOf(c.xs); got != c.want {
			t.Errorf("spreadOf(%v) = %v, want %v", c.xs, got, c.want)
		}
		if !slices.Equal(in, c.xs) {
			t.Errorf("spreadOf changed its argument: %v", c.xs)
		}
	}
}
