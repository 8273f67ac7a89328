package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/pkce"
)

// buildOnce builds the ward binary once for the tests of this file.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ward-cmd-test-")
	if err != nil {
		return "", err
	}
	return wardtest.Build(dir)
})

func wardBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the ward binary")
	}
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

const (
	pgTestPassword = "pw-that-must-never-be-logged"
	pgUserPassword = "correct horse battery staple"
	pgRedirect     = "http://127.0.0.1/cb"
)

// partitionedWard is a `ward serve` on PostgreSQL reached through a proxy
// the test can black-hole.
type partitionedWard struct {
	proxy  *wardtest.Proxy
	proc   *wardtest.Process
	issuer string
	hc     *http.Client
}

// startPartitionable writes a configuration with store.timeout and
// store.startup_timeout as given and starts `ward serve` on PostgreSQL
// through a proxy; it waits for the listener unless wait is false.
func startPartitionable(t *testing.T, timeout, startup string, before func(*wardtest.Proxy), wait bool) *partitionedWard {
	t.Helper()
	bin := wardBinary(t)
	dsn := wardtest.PostgresSchema(t, "ward_partition_")
	proxy := wardtest.NewProxy(t, dsn.Host)
	dsn.Host = proxy.Addr()
	dsn.User = url.UserPassword(dsn.User.Username(), pgTestPassword) // trust auth ignores it
	if before != nil {
		before(proxy)
	}
	dir := t.TempDir()
	ca := mtlstest.NewCA(t, "ward partition test CA")
	caFile := ca.WriteFile(t, dir)
	certFile, keyFile := ca.Issue(t, mtlstest.Options{CommonName: "127.0.0.1", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ServerOnly: true}).WriteFiles(t, dir, "server")
	addr := wardtest.FreeAddr(t)
	issuer := "https://" + addr
	cfg := fmt.Sprintf(`issuer: %[1]s
listen: %[2]s
tls: {cert_file: %[3]s, key_file: %[4]s}
data_dir: %[5]s
store: {driver: postgres, timeout: %[6]s, startup_timeout: %[7]s}
clients:
  - {id: web, auth_method: none, redirect_uris: [%[8]s], scopes: [demo:read], audiences: [https://api.example]}
`, issuer, addr, certFile, keyFile, dir, timeout, startup, pgRedirect)
	for _, id := range []string{"svc-1", "svc-2", "rs-1", "rs-2"} {
		cfg += fmt.Sprintf(`  - {id: %s, auth_method: client_secret_basic, secret_env: WARD_TEST_SVC_SECRET, grant_types: [client_credentials], scopes: [demo:read], audiences: [https://api.example], sender_constraint: bearer}
`, id)
	}
	cfg += "users:\n  - {subject: u-alice, username: alice, password_env: WARD_TEST_ALICE_PASSWORD}\n"
	cfgPath := filepath.Join(dir, "ward.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	w := &partitionedWard{proxy: proxy, issuer: issuer,
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}}
	w.proc = wardtest.Start(t, bin, []string{
		"WARD_STORE_DSN=" + dsn.String(),
		"WARD_FLOW_KEY=" + wardtest.RandKey(),
		"WARD_KEY_ENCRYPTION_KEY=" + wardtest.RandKey(),
		"WARD_TEST_SVC_SECRET=svc-secret",
		"WARD_TEST_ALICE_PASSWORD=" + pgUserPassword,
		"SSL_CERT_FILE=" + caFile,
	}, "serve", "--config", cfgPath)
	if wait {
		w.proc.WaitReady(t, w.hc, issuer+"/.well-known/oauth-authorization-server")
	}
	return w
}

// TestServePostgresPartition: PostgreSQL silently partitioned (a proxy
// that forwards nothing and closes nothing). At start, `ward serve` says
// what it waits for every few seconds and, at store.startup_timeout,
// exits non-zero naming the cause, without ever logging the DSN's
// password. Running, every request that needs the store answers 503
// temporarily_unavailable with Retry-After within a bounded time (JSON
// for /token and /introspect, an HTML page for the login form), instead
// of hanging; once the network is back, tokens are issued again.
func TestServePostgresPartition(t *testing.T) {
	t.Run("at_start", func(t *testing.T) {
		w := startPartitionable(t, "1s", "7s", (*wardtest.Proxy).Blackhole, false)
		code, ended := w.proc.Wait(40 * time.Second)
		out := w.proc.Output()
		if !ended {
			t.Fatalf("ward serve still running 40 s into a partition with store.startup_timeout 7s")
		}
		if code == 0 {
			t.Errorf("ward serve exited 0 after giving up on PostgreSQL")
		}
		want := "waiting for PostgreSQL at " + w.proxy.Addr()
		if n := strings.Count(out, want); n < 2 {
			t.Errorf("%d log lines %q, want one every few seconds:\n%s", n, want, out)
		}
		if !strings.Contains(out, "PostgreSQL at "+w.proxy.Addr()+" could not be reached within store.startup_timeout (7s)") {
			t.Errorf("the exit message does not name the cause:\n%s", out)
		}
		if strings.Contains(out, pgTestPassword) {
			t.Errorf("the output holds the DSN's password:\n%s", out)
		}
	})

	t.Run("requests", func(t *testing.T) {
		w := startPartitionable(t, "1s", "30s", nil, true)
		if r := w.token(t, "svc-1"); r.status != http.StatusOK {
			t.Fatalf("token before the partition: %d %s", r.status, r.body)
		}
		jar, login := w.loginPage(t)

		w.proxy.Blackhole()
		const bound = 15 * time.Second // store.timeout 1s; generous for a loaded machine
		check := func(what string, r *pgResponse, html bool) {
			t.Helper()
			if r.took > bound {
				t.Errorf("%s took %v in a partition", what, r.took)
			}
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
				t.Errorf("%s in a partition: %d, Retry-After %q; want 503 with Retry-After\n%s", what, r.status, r.header.Get("Retry-After"), r.body)
			}
			if !bytes.Contains(r.body, []byte("temporarily_unavailable")) {
				t.Errorf("%s: body does not say temporarily_unavailable: %s", what, r.body)
			}
			if ct := r.header.Get("Content-Type"); html != strings.HasPrefix(ct, "text/html") {
				t.Errorf("%s: Content-Type %q", what, ct)
			}
		}
		check("token", w.token(t, "svc-2"), false)
		check("introspect", w.introspect(t, "rs-1"), false)
		login.Set("username", "alice")
		login.Set("password", pgUserPassword)
		check("login", w.post(t, authz.PathLogin, login, "", jar), true)

		w.proxy.Restore(t)
		deadline := time.Now().Add(bound)
		for r := w.token(t, "svc-2"); r.status != http.StatusOK; r = w.token(t, "svc-2") {
			if time.Now().After(deadline) {
				t.Fatalf("token after the partition: %d %s", r.status, r.body)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if r := w.introspect(t, "rs-2"); r.status != http.StatusOK {
			t.Errorf("introspect after the partition: %d %s", r.status, r.body)
		}
	})
}

type pgResponse struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

func (w *partitionedWard) post(t *testing.T, path string, form url.Values, basic string, jar http.CookieJar) *pgResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != "" {
		req.SetBasicAuth(basic, "svc-secret")
	}
	return w.do(t, req, jar)
}

func (w *partitionedWard) do(t *testing.T, req *http.Request, jar http.CookieJar) *pgResponse {
	t.Helper()
	hc := *w.hc
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v (after %v)", req.Method, req.URL.Path, err, time.Since(start))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &pgResponse{status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(start)}
}

func (w *partitionedWard) token(t *testing.T, client string) *pgResponse {
	t.Helper()
	return w.post(t, authz.PathToken, url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}, client, nil)
}

func (w *partitionedWard) introspect(t *testing.T, client string) *pgResponse {
	t.Helper()
	r := w.post(t, authz.PathIntrospect, url.Values{"token": {"not-a-token"}}, client, nil)
	if r.status == http.StatusOK {
		var v map[string]any
		if json.Unmarshal(r.body, &v) != nil || v["active"] != false {
			t.Errorf("introspect: %s", r.body)
		}
	}
	return r
}

var loginFormRE = regexp.MustCompile(`name="password"`)

// loginPage starts an authorization request and returns the cookie jar
// and the login form's hidden fields.
func (w *partitionedWard) loginPage(t *testing.T) (http.CookieJar, url.Values) {
	t.Helper()
	v, err := pkce.NewVerifier()
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {pgRedirect},
		"scope": {"demo:read"}, "state": {"st"}, "code_challenge": {pkce.Challenge(v)}, "code_challenge_method": {"S256"}}
	jar, _ := cookiejar.New(nil)
	u := w.issuer + authz.PathAuthorize + "?" + q.Encode()
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		r := w.do(t, req, jar)
		if loc := r.header.Get("Location"); r.status/100 == 3 && strings.HasPrefix(loc, w.issuer+"/") {
			u = loc
			continue
		}
		if r.status != http.StatusOK || !loginFormRE.Match(r.body) {
			t.Fatalf("expected the login page: %d %s", r.status, r.body)
		}
		return jar, wardtest.HiddenFields(r.body)
	}
	t.Fatal("too many redirects")
	return nil, nil
}
