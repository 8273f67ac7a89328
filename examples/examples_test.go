// Package examples_test runs each example of examples/ by its one command
// (run.sh) on free ports, drives a token through it with the ward binary
// or a plain HTTPS client, and stops it. An example needing PostgreSQL,
// Redis or Caddy skips when it is missing (fails under
// WARD_TEST_REQUIRE_SERVICES=1 or WARD_TEST_REQUIRE_PROXIES=1, as in
// .ci/run).
package examples_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // wardtest.PostgresSchema opens "pgx"

	"github.com/wardauth/ward/internal/wardtest"
)

var wardBin, idpBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ward-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if wardBin, err = wardtest.Build(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		idpBin = filepath.Join(dir, "idp")
		if out, err := exec.Command("go", "build", "-o", idpBin, "./foreign-idp/idp").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build ./foreign-idp/idp: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// example is a running run.sh.
type example struct {
	work  string
	ports map[string]string
	cmd   *exec.Cmd
	out   *wardtest.SyncBuffer
	done  chan struct{}
}

// runExample starts examples/NAME/run.sh with a free port for each of
// portVars and the extra environment, and waits until it says ready. At
// the test's end it is stopped with SIGTERM (its trap stops what it
// started), and every port must be closed again.
func runExample(t *testing.T, name string, portVars []string, env ...string) *example {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "perl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: the example scripts need bash, curl and perl", tool)
		}
	}
	ex := &example{work: t.TempDir(), ports: map[string]string{}, out: &wardtest.SyncBuffer{}, done: make(chan struct{})}
	env = append(env, "WARD_BIN="+wardBin, "IDP_BIN="+idpBin, "WARD_EXAMPLE_WORK="+ex.work)
	for _, v := range portVars {
		_, port, _ := net.SplitHostPort(wardtest.FreeAddr(t))
		ex.ports[v] = port
		env = append(env, v+"="+port)
	}
	ex.cmd = exec.Command("bash", filepath.Join(name, "run.sh"))
	ex.cmd.Env = append(wardtest.CleanEnv(), env...)
	ex.cmd.Stdout, ex.cmd.Stderr = ex.out, ex.out
	ex.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := ex.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = ex.cmd.Wait(); close(ex.done) }()
	t.Cleanup(func() { ex.stop(t) })
	ex.waitReady(t)
	return ex
}

func (ex *example) waitReady(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(ex.work, "ready")); err == nil {
			return
		}
		select {
		case <-ex.done:
			t.Fatalf("run.sh exited (%v) before it was ready:\n%s", ex.cmd.ProcessState, ex.out.String())
		default:
		}
	}
	t.Fatalf("run.sh not ready after 90 s:\n%s", ex.out.String())
}

// stop sends SIGTERM to run.sh and checks that it stopped everything it
// started: it exits, and none of its ports still accepts connections.
func (ex *example) stop(t *testing.T) {
	_ = ex.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-ex.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-ex.cmd.Process.Pid, syscall.SIGKILL) // its own process group
		<-ex.done
		t.Errorf("run.sh did not stop within 30 s of SIGTERM")
	}
	for v, port := range ex.ports {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
			c.Close()
			t.Errorf("%s (%s) still accepts connections after run.sh stopped", v, port)
		}
	}
	if t.Failed() {
		t.Logf("--- run.sh output:\n%s", ex.out.String())
	}
}

func (ex *example) url(portVar, path string) string {
	return "https://127.0.0.1:" + ex.ports[portVar] + path
}

func (ex *example) caFile() string { return filepath.Join(ex.work, "pki", "ca", "ca.pem") }

// wardCurl runs `ward curl -f` as the example's README tells a person
// to: the CA in SSL_CERT_FILE, the client's secret in WARD_CLIENT_SECRET.
func (ex *example) wardCurl(t *testing.T, issuer, clientID, target string, args ...string) string {
	t.Helper()
	secret, err := os.ReadFile(filepath.Join(ex.work, "svc.secret"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(wardBin, append([]string{"curl", "-f", "--issuer", issuer, "--client-id", clientID}, append(args, target)...)...)
	cmd.Env = append(wardtest.CleanEnv(), "SSL_CERT_FILE="+ex.caFile(), "WARD_CLIENT_SECRET="+strings.TrimSpace(string(secret)))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ward curl %s: %v\n%s", target, err, out)
	}
	return string(out)
}

// httpsClient trusts the example's CA and presents cert when given.
func (ex *example) httpsClient(t *testing.T, cert *tls.Certificate) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(ex.caFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// whoami is the demo API's answer: the identity headers the gateway sent.
type whoami struct {
	Headers map[string]string `json:"identity_headers"`
}

func parseWhoami(t *testing.T, body string) whoami {
	t.Helper()
	var w whoami
	if err := json.Unmarshal([]byte(body), &w); err != nil {
		t.Fatalf("demo API answer %q: %v", body, err)
	}
	return w
}

func get(t *testing.T, c *http.Client, u string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSingleNode: the single-node shape with TLS; a DPoP-bound token of
// client svc reaches the demo API through the gateway, and a request
// without a token does not.
func TestSingleNode(t *testing.T) {
	ex := runExample(t, "single-node", []string{"AS_PORT", "GW_PORT", "ADMIN_PORT"})
	out := ex.wardCurl(t, ex.url("AS_PORT", ""), "svc", ex.url("GW_PORT", "/demo/whoami"), "--scope", "demo:read")
	w := parseWhoami(t, out)
	if w.Headers["X-Ward-Client"] != "svc" || w.Headers["X-Ward-Jkt"] == "" {
		t.Fatalf("identity %v: want client svc with a DPoP key thumbprint", w.Headers)
	}
	if code, _ := get(t, ex.httpsClient(t, nil), ex.url("GW_PORT", "/demo/whoami"), nil); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", code)
	}
}

// TestScaleout: two authorization servers and two gateways on PostgreSQL
// and Redis behind Caddy; tokens issued through the balancer are
// accepted through the other balancer, and both gateways serve some.
func TestScaleout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five processes, PostgreSQL and Redis: skipped under -short")
	}
	requireCaddy(t)
	dsn := wardtest.PostgresSchema(t, "ward_ex_")
	q := dsn.Query()
	q.Set("pool_max_conns", "4")
	dsn.RawQuery = q.Encode()
	redisAddr, _, prefix := wardtest.Redis(t, "examples")
	ex := runExample(t, "scaleout",
		[]string{"AS_LB_PORT", "GW_LB_PORT", "AS_A_PORT", "AS_B_PORT", "GW_A_PORT", "GW_B_PORT", "GW_A_ADMIN", "GW_B_ADMIN"},
		"WARD_STORE_DSN="+dsn.String(), "WARD_REDIS_URL=redis://"+redisAddr+"/0", "REDIS_PREFIX="+prefix)
	for range 4 {
		out := ex.wardCurl(t, ex.url("AS_LB_PORT", ""), "svc", ex.url("GW_LB_PORT", "/demo/whoami"), "--scope", "demo:read")
		if w := parseWhoami(t, out); w.Headers["X-Ward-Client"] != "svc" {
			t.Fatalf("identity %v", w.Headers)
		}
	}
	for _, admin := range []string{"GW_A_ADMIN", "GW_B_ADMIN"} {
		allowed := 0.0
		for _, s := range wardtest.Metric(t, "http://127.0.0.1:"+ex.ports[admin]+"/metrics", "ward_gateway_requests_total") {
			if s.Labels["outcome"] == "allowed" {
				allowed += s.Value
			}
		}
		if allowed == 0 {
			t.Errorf("gateway %s served none of the 4 requests: Caddy did not spread them", admin)
		}
	}
}

// TestMTLS: the workload orders gets a certificate-bound token with its
// SPIFFE certificate alone, uses it over the same certificate (and is
// refused without it), and reaches the certificate-only route by its
// SPIFFE ID.
func TestMTLS(t *testing.T) {
	ex := runExample(t, "mtls", []string{"AS_PORT", "GW_PORT", "ADMIN_PORT"})
	pki := filepath.Join(ex.work, "pki", "clients")
	cert, err := tls.LoadX509KeyPair(filepath.Join(pki, "orders.pem"), filepath.Join(pki, "orders-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	withCert, without := ex.httpsClient(t, &cert), ex.httpsClient(t, nil)
	resp, err := withCert.PostForm(ex.url("AS_PORT", "/token"), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"orders"}, "scope": {"inventory:read"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	bearer := http.Header{"Authorization": {"Bearer " + tok.AccessToken}}
	code, body := get(t, withCert, ex.url("GW_PORT", "/demo/whoami"), bearer)
	if w := parseWhoami(t, body); code != http.StatusOK || w.Headers["X-Ward-Client"] != "orders" {
		t.Fatalf("token over its certificate: %d %v", code, w.Headers)
	}
	if code, _ := get(t, without, ex.url("GW_PORT", "/demo/whoami"), bearer); code != http.StatusUnauthorized {
		t.Fatalf("certificate-bound token without the certificate: %d, want 401", code)
	}
	code, body = get(t, withCert, ex.url("GW_PORT", "/workload/demo/whoami"), nil)
	if w := parseWhoami(t, body); code != http.StatusOK || w.Headers["X-Ward-Spiffe-Id"] != "spiffe://example/ns/shop/sa/orders" {
		t.Fatalf("certificate route: %d %v", code, w.Headers)
	}
	if code, _ := get(t, without, ex.url("GW_PORT", "/workload/demo/whoami"), nil); code != http.StatusUnauthorized {
		t.Fatalf("certificate route without a certificate: %d, want 401", code)
	}
}

// TestForeignIdP: the gateway alone accepts the stand-in provider's
// DPoP-bound tokens, fetched by `ward curl` from the provider.
func TestForeignIdP(t *testing.T) {
	ex := runExample(t, "foreign-idp", []string{"IDP_PORT", "GW_PORT", "ADMIN_PORT"})
	out := ex.wardCurl(t, ex.url("IDP_PORT", ""), "svc", ex.url("GW_PORT", "/demo/whoami"))
	w := parseWhoami(t, out)
	if w.Headers["X-Ward-Client"] != "svc" || w.Headers["X-Ward-Scopes"] != "orders:read" || w.Headers["X-Ward-Jkt"] == "" {
		t.Fatalf("identity %v: want client svc, scope orders:read, a DPoP key", w.Headers)
	}
	if code, _ := get(t, ex.httpsClient(t, nil), ex.url("GW_PORT", "/demo/whoami"), nil); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", code)
	}
}

// requireCaddy skips without Debian's caddy, or fails under
// WARD_TEST_REQUIRE_PROXIES=1 (set by .ci/run when it installed it).
func requireCaddy(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("caddy"); err == nil {
		return
	}
	msg := "caddy is not installed (Debian: apt-get install caddy): the scale-out example's load balancer is missing"
	if os.Getenv("WARD_TEST_REQUIRE_PROXIES") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; set WARD_TEST_REQUIRE_PROXIES=1 to fail instead")
}
