// Package wardtest is the harness shared by the tests that run the built
// `ward` binary: build it, pick free loopback ports, start `ward serve`
// and wait until it answers, stop it, read its gateway's rejection
// metric, make a service unreachable on purpose (Proxy), and skip or fail
// when PostgreSQL or Redis is missing.
//
// It is imported only by tests. Nothing here is meant for production.
package wardtest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ModuleRoot is the directory holding the module's go.mod, found from the
// working directory upwards (a test runs in its package's directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("wardtest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Build builds ./cmd/ward into dir and returns the binary's path. It
// returns an error rather than taking a testing.TB so that TestMain can
// call it.
func Build(dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ward")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ward")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ward: %v\n%s", err, out)
	}
	return bin, nil
}

// FreeAddr is a loopback host:port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// RandKey is 32 random bytes in standard base64: a key-encryption key, a
// flow key or a DPoP nonce secret.
func RandKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// CleanEnv is the environment without WARD_* and SSL_CERT_* variables, so
// that the developer's settings never leak into a test's ward.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WARD_") && !strings.HasPrefix(kv, "SSL_CERT_") {
			env = append(env, kv)
		}
	}
	return env
}

// SyncBuffer is a bytes.Buffer safe for a process's stdout and stderr.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Process is a running `ward` process.
type Process struct {
	name string
	cmd  *exec.Cmd
	out  *SyncBuffer
	done chan struct{}
}

// Start runs bin with args and CleanEnv() plus env. At the test's end the
// process gets SIGTERM (SIGKILL after 10 s), and its output is logged if
// the test failed.
func Start(t testing.TB, bin string, env []string, args ...string) *Process {
	t.Helper()
	return StartNamed(t, "ward", bin, env, args...)
}

// StartNamed is Start for one of several processes: name tells them apart
// in failures and logs.
func StartNamed(t testing.TB, name, bin string, env []string, args ...string) *Process {
	t.Helper()
	p := &Process{name: name, out: &SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(CleanEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s (%s): %v", name, bin, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("--- %s output:\n%s", name, p.out.String())
		}
	})
	return p
}

// Pid is the process's id (to read its CPU time from /proc).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Name is the name the process was started with.
func (p *Process) Name() string { return p.name }

// Kill sends SIGKILL and waits for the process to be gone (a crash).
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Output is what the process wrote so far.
func (p *Process) Output() string { return p.out.String() }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to limit for the process to end on its own and returns
// its exit code; ok is false when it is still running.
func (p *Process) Wait(limit time.Duration) (code int, ok bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(limit):
		return 0, false
	}
}

// Stop sends SIGTERM and waits, with SIGKILL after 10 s.
func (p *Process) Stop() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// WaitOK polls u with c until it answers 200, for up to 20 s.
func WaitOK(c *http.Client, u string) error {
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := c.Get(u)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		last = resp.Status
	}
	return fmt.Errorf("%s did not answer 200: %s", u, last)
}

// WaitReady is WaitOK for each URL, failing the test (with the process's
// output) when one never answers.
func (p *Process) WaitReady(t testing.TB, c *http.Client, urls ...string) {
	t.Helper()
	for _, u := range urls {
		if p.Exited() {
			t.Fatalf("%s exited:\n%s", p.name, p.Output())
		}
		if err := WaitOK(c, u); err != nil {
			t.Fatalf("%v\n--- %s output:\n%s", err, p.name, p.Output())
		}
	}
}

// Sample is one series of a metric: its labels and value.
type Sample struct {
	Labels map[string]string
	Value  float64
}

var sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// Metric reads the series of the metric name from the Prometheus text at
// metricsURL (an admin listener's /metrics).
func Metric(t testing.TB, metricsURL, name string) []Sample {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []Sample
	for _, line := range strings.Split(string(b), "\n") {
		m := sampleRE.FindStringSubmatch(line)
		if m == nil || m[1] != name {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		s := Sample{Labels: map[string]string{}, Value: v}
		for _, l := range labelRE.FindAllStringSubmatch(m[2], -1) {
			s.Labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out
}

// Rejections is the gateway's ward_gateway_rejections_total by
// "error/reason", read from the admin listener at adminURL.
func Rejections(t testing.TB, adminURL string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range Metric(t, adminURL+"/metrics", "ward_gateway_rejections_total") {
		out[s.Labels["error"]+"/"+s.Labels["reason"]] += s.Value
	}
	return out
}

// Delta is what changed between two Rejections readings.
func Delta(before, after map[string]float64) map[string]float64 {
	d := map[string]float64{}
	for k, v := range after {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

// Unavailable skips the test because a service it needs is missing, or
// fails it when WARD_TEST_REQUIRE_SERVICES=1 (as in .ci/run).
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("WARD_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; start it, or set WARD_TEST_REQUIRE_SERVICES=1 to fail instead")
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)

// HiddenFields returns the hidden inputs of an HTML form (Ward's login
// and consent pages), unescaped, to post the form back as a browser
// would.
func HiddenFields(body []byte) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllSubmatch(body, -1) {
		v.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	return v
}

var formActionRE = regexp.MustCompile(`<form[^>]*\saction="([^"]*)"`)

// BrowserLogin is a user's browser on Ward's pages: it opens authURL,
// signs in as user with password on the login page, answers the consent
// page with decision ("allow" or "deny"), posting each form to its action
// as a browser would, and returns the first redirect to another origin
// (the client's redirect URI) without following it.
func BrowserLogin(authURL, user, password, decision string) (*url.URL, error) {
	return BrowserLoginWith(nil, authURL, user, password, decision)
}

// BrowserLoginWith is BrowserLogin over transport (nil: the default), for
// a server whose TLS certificate a test made.
func BrowserLoginWith(transport http.RoundTripper, authURL, user, password, decision string) (*url.URL, error) {
	start, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	jar, _ := cookiejar.New(nil)
	var final *url.URL
	hc := &http.Client{Transport: transport, Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Scheme != start.Scheme || req.URL.Host != start.Host {
			final = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	page := func(resp *http.Response, err error) ([]byte, error) {
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	body, err := page(hc.Get(authURL))
	for range 3 {
		if err != nil || final != nil {
			break
		}
		f := HiddenFields(body)
		switch {
		case bytes.Contains(body, []byte(`name="password"`)):
			f.Set("username", user)
			f.Set("password", password)
		case bytes.Contains(body, []byte(`name="decision"`)):
			f.Set("decision", decision)
		default:
			return nil, fmt.Errorf("browser: unexpected page: %.300s", body)
		}
		m := formActionRE.FindSubmatch(body)
		if m == nil {
			return nil, fmt.Errorf("browser: no form action: %.300s", body)
		}
		action, perr := start.Parse(html.UnescapeString(string(m[1])))
		if perr != nil {
			return nil, perr
		}
		body, err = page(hc.PostForm(action.String(), f))
	}
	if err != nil {
		return nil, err
	}
	if final == nil {
		return nil, fmt.Errorf("browser: no redirect to the client; last page %.300s", body)
	}
	return final, nil
}

// DeviceApprove is a person on Ward's device verification page (RFC
// 8628, docs/DEVICE.md): it opens issuer/device, enters code, signs in as
// user with password, and answers the decision page with decision
// ("allow" or "deny").
func DeviceApprove(issuer, code, user, password, decision string) error {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	read := func(r *http.Response, err error) ([]byte, error) {
		if err != nil {
			return nil, err
		}
		defer r.Body.Close()
		return io.ReadAll(r.Body)
	}
	body, err := read(hc.Get(issuer + "/device"))
	if err != nil {
		return err
	}
	steps := []func(url.Values) string{
		func(f url.Values) string { f.Set("user_code", code); return "/device" },
		func(f url.Values) string { f.Set("username", user); f.Set("password", password); return "/login" },
		func(f url.Values) string { f.Set("decision", decision); return "/device" },
	}
	for _, step := range steps {
		f := HiddenFields(body)
		path := step(f)
		if body, err = read(hc.PostForm(issuer+path, f)); err != nil {
			return err
		}
	}
	if !bytes.Contains(body, []byte("<h1>")) || bytes.Contains(body, []byte(`name="decision"`)) {
		return fmt.Errorf("device approval: unexpected last page: %.300s", body)
	}
	return nil
}

// InteropDir is the repository's interop directory: the pinned npm
// packages (interop/package.json; .ci/run installs them with npm ci) and
// the scripts that drive them.
var InteropDir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "interop")
}()

// NeedNode returns the node binary, or skips the test when node or one of
// the npm packages pkgs is not installed.
func NeedNode(t testing.TB, pkgs ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("interop: node is not installed; skipping (CI installs it)")
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(InteropDir, "node_modules", p, "package.json")); err != nil {
			t.Skipf("interop: npm package %s is not installed; run `npm ci --prefix interop` (CI does)", p)
		}
	}
	return node
}
