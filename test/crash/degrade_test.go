package crash

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardauth/ward/oauth"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/clustertest"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/mtls/mtlstest"
)

// TestPostgresUnreachable runs `ward serve` (authorization server and
// gateway) on PostgreSQL reached through a TCP proxy of the test's own,
// then cuts the proxy: the database is gone for this process only (the
// machine's PostgreSQL keeps running). While it is gone the token endpoint
// answers 503 temporarily_unavailable promptly (RFC 6749 §5.2), never 500
// and never a token; the gateway, which checks tokens locally, forwards
// only requests whose token and proof it verified and refuses the rest.
// When the proxy is back, tokens are issued again without a restart.
func TestPostgresUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the ward binary")
	}
	dsn := wardtest.PostgresSchema(t, "ward_degrade_")
	proxy := wardtest.NewProxy(t, dsn.Host)
	dsn.Host = proxy.Addr()

	dir := t.TempDir()
	bin, err := wardtest.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	ca := mtlstest.NewCA(t, "ward degrade test CA")
	caFile := ca.WriteFile(t, dir)
	certFile, keyFile := ca.Issue(t, mtlstest.Options{CommonName: "127.0.0.1", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ServerOnly: true}).WriteFiles(t, dir, "server")

	var hits atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(upstream.Close)

	asAddr, gwAddr, adminAddr := wardtest.FreeAddr(t), wardtest.FreeAddr(t), wardtest.FreeAddr(t)
	issuer, gwURL, adminURL := "https://"+asAddr, "https://"+gwAddr, "http://"+adminAddr
	cfg := fmt.Sprintf(`issuer: %[1]s
listen: %[2]s
tls: {cert_file: %[3]s, key_file: %[4]s}
data_dir: %[5]s
store: {driver: postgres}
clients:
  - id: %[6]s
    auth_method: client_secret_basic
    secret_env: WARD_TEST_SVC_SECRET
    grant_types: [client_credentials]
    scopes: [demo:read]
    audiences: [%[7]s]
  - id: %[6]s-2
    auth_method: client_secret_basic
    secret_env: WARD_TEST_SVC_SECRET
    grant_types: [client_credentials]
    scopes: [demo:read]
    audiences: [%[7]s]
gateway:
  enabled: true
  listen: %[8]s
  admin_listen: %[9]s
  tls: {cert_file: %[3]s, key_file: %[4]s}
  public_url: %[7]s
  routes:
    - name: api
      path_prefix: /api/
      upstream: %[10]s
      policy: [{name: read, action: allow, principals: ["*"], methods: [GET]}]
`, issuer, asAddr, certFile, keyFile, dir, svcClient, gwURL, gwAddr, adminAddr, upstream.URL)
	cfgPath := filepath.Join(dir, "ward.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := wardtest.Start(t, bin, []string{
		"WARD_STORE_DSN=" + dsn.String(),
		"WARD_FLOW_KEY=" + wardtest.RandKey(),
		"WARD_KEY_ENCRYPTION_KEY=" + wardtest.RandKey(),
		"WARD_TEST_SVC_SECRET=" + svcSecret,
		"SSL_CERT_FILE=" + caFile,
	}, "serve", "--config", cfgPath)
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	p.WaitReady(t, hc, issuer+"/.well-known/oauth-authorization-server", adminURL+"/readyz")

	sg := newSigner(t)
	token := func(client string) (*response, time.Duration) {
		t.Helper()
		proof, err := sg.Proof(http.MethodPost, issuer+authz.PathToken)
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}
		req, _ := http.NewRequest(http.MethodPost, issuer+authz.PathToken, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", proof)
		req.SetBasicAuth(client, svcSecret)
		start := time.Now()
		return send(t, hc, req), time.Since(start)
	}
	callAPI := func(authorization string, sign bool, tok string) *response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, gwURL+"/api/x", nil)
		req.Header.Set("Authorization", authorization)
		if sign {
			pr, err := sg.Proof(http.MethodGet, gwURL+"/api/x", dpop.WithAccessToken(tok))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("DPoP", pr)
		}
		return send(t, hc, req)
	}

	// Baseline: a token, and the gateway forwards a call with it.
	r, _ := token(svcClient)
	tok := r.Str("access_token")
	if r.Status != http.StatusOK || tok == "" {
		t.Fatalf("token with PostgreSQL reachable: %v", r)
	}
	if r := callAPI("DPoP "+tok, true, tok); r.Status != http.StatusOK || hits.Load() != 1 {
		t.Fatalf("gateway with PostgreSQL reachable: %v (upstream hits %d)", r, hits.Load())
	}

	proxy.Cut()

	// The token endpoint, for a client it must look up in the store:
	// 503 temporarily_unavailable, quickly, no token.
	for i := range 3 {
		r, took := token(svcClient + "-2")
		if r.Status != http.StatusServiceUnavailable || r.Str("error") != "temporarily_unavailable" {
			t.Errorf("token request %d with PostgreSQL unreachable: %d %s, want 503 temporarily_unavailable", i, r.Status, r.Str("error"))
		}
		if strings.Contains(string(r.Body), "access_token") {
			t.Fatalf("a token was issued with the store unreachable: %d", r.Status)
		}
		if took > 10*time.Second {
			t.Errorf("token request %d took %v with PostgreSQL unreachable", i, took)
		}
	}

	// The gateway: the token it verified before still verifies (locally,
	// with a fresh proof) and is forwarded; a forged token, a call without
	// a proof and a call without a token are refused and not forwarded.
	before := hits.Load()
	if r := callAPI("DPoP "+tok, true, tok); r.Status != http.StatusOK || hits.Load() != before+1 {
		t.Errorf("gateway, verified token, PostgreSQL unreachable: %v (hits %d→%d)", r, before, hits.Load())
	}
	before = hits.Load()
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	for name, c := range map[string]struct {
		auth string
		sign bool
	}{"forged signature": {"DPoP " + forged, true}, "no proof": {"DPoP " + tok, false}, "no token": {"", false}} {
		if r := callAPI(c.auth, c.sign, strings.TrimPrefix(c.auth, "DPoP ")); r.Status != http.StatusUnauthorized {
			t.Errorf("gateway, %s, PostgreSQL unreachable: %v, want 401", name, r)
		}
	}
	if got := hits.Load(); got != before {
		t.Errorf("the gateway forwarded %d unverified requests with PostgreSQL unreachable", got-before)
	}

	// Back: tokens are issued again, without a restart.
	proxy.Restore(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, _ := token(svcClient + "-2")
		if r.Status == http.StatusOK && r.Str("access_token") != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token endpoint after PostgreSQL came back: %d %s", r.Status, r.Str("error"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(p.Output(), svcSecret) || strings.Contains(p.Output(), tok) {
		t.Error("the log holds the client secret or a token")
	}
}

func send(t *testing.T, hc *http.Client, req *http.Request) *response {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return clustertest.Read(resp)
}
