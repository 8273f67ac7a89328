package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/wardtest"
)

// devURLs are where the test's `ward serve --dev` listens: free loopback
// ports (--listen, --gateway-listen, --admin-listen), so that the test
// runs beside a developer's own dev server on 9000-9002.
type devURLs struct{ issuer, gateway, admin string }

// devCredentials is the part of <data>/dev-credentials.json this test
// reads.
type devCredentials struct {
	Issuer     string `json:"issuer"`
	GatewayURL string `json:"gateway_url"`
	Service    struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Scope        string `json:"scope"`
	} `json:"confidential_client"`
}

// TestBinary builds cmd/ward, runs `ward serve --dev` as a process, gets a
// DPoP-bound token for demo-service from dev-credentials.json, calls
// /demo/whoami through the gateway, checks the identity the demo API
// received and that a replayed proof is refused, then sends SIGTERM and
// expects a clean exit.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the ward binary; skipped with -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the binary: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ward")
	build := exec.Command(goTool, "build", "-o", bin, "github.com/wardauth/ward/cmd/ward")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	data := filepath.Join(dir, "data")
	var stdout, stderr wardtest.SyncBuffer
	as, gw, admin := wardtest.FreeAddr(t), wardtest.FreeAddr(t), wardtest.FreeAddr(t)
	dev := devURLs{issuer: "http://" + as, gateway: "http://" + gw, admin: "http://" + admin}
	cmd := exec.Command(bin, "serve", "--dev", "--data", data, "--listen", as, "--gateway-listen", gw, "--admin-listen", admin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{}) // closed when the process has exited; then waitErr is set
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	hc := &http.Client{Timeout: 5 * time.Second}
	waitReady(t, hc, dev, exited, &waitErr, &stdout, &stderr)

	b, err := os.ReadFile(filepath.Join(data, "dev-credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	var creds devCredentials
	if err := json.Unmarshal(b, &creds); err != nil {
		t.Fatal(err)
	}
	if creds.Issuer != dev.issuer || creds.GatewayURL != dev.gateway || creds.Service.ClientID != "demo-service" || creds.Service.ClientSecret == "" {
		t.Fatalf("dev-credentials.json: %s", b)
	}
	if st, err := os.Stat(filepath.Join(data, "dev-credentials.json")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("dev-credentials.json mode: %v %v", st.Mode(), err)
	}
	if !strings.Contains(stdout.String(), creds.Service.ClientSecret) {
		t.Errorf("the dev credentials were not printed:\n%s", stdout.String())
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := dpop.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	var nonce string
	tok, _ := clientCredentials(t, hc, creds.Issuer+"/token", creds.Service.ClientID, creds.Service.ClientSecret, "demo:read", sg, &nonce)

	proof, err := sg.Proof(http.MethodGet, creds.GatewayURL+"/demo/whoami", dpop.WithAccessToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	whoami := func() (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, creds.GatewayURL+"/demo/whoami", nil)
		req.Header.Set("Authorization", "DPoP "+tok)
		req.Header.Set("DPoP", proof)
		req.Header.Set("X-Ward-Subject", "forged")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	resp, body := whoami()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("whoami: %d %s\n%s", resp.StatusCode, body, stderr.String())
	}
	var who struct {
		Headers map[string]string `json:"identity_headers"`
		Auth    bool              `json:"authorization_forwarded"`
	}
	if err := json.Unmarshal(body, &who); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"X-Ward-Subject": "demo-service", "X-Ward-Client": "demo-service",
		"X-Ward-Scopes": "demo:read", "X-Ward-Jkt": sg.Thumbprint(),
	} {
		if who.Headers[k] != v {
			t.Errorf("upstream %s = %q, want %q (%s)", k, who.Headers[k], v, body)
		}
	}
	if who.Auth {
		t.Error("the Authorization header reached the demo API")
	}
	// The same proof again: refused as a replay, and counted.
	if resp, body := whoami(); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"invalid_dpop_proof"`) {
		t.Errorf("replayed proof: %d %s", resp.StatusCode, body)
	}
	if m := get(t, hc, dev.admin+"/metrics"); !strings.Contains(m, `ward_gateway_rejections_total{error="invalid_dpop_proof",reason="replayed"} 1`) {
		t.Errorf("metrics lack the replay:\n%s", grep(m, "rejections"))
	} else if !strings.Contains(m, `ward_authz_tokens_issued_total{grant="client_credentials",sender="dpop"} 1`) {
		// The authorization server's series share the admin listener.
		t.Errorf("metrics lack the issued token:\n%s", grep(m, "ward_authz_tokens"))
	}
	if strings.Contains(stderr.String(), tok) {
		t.Error("the access token was logged")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("ward exited with %v after SIGTERM:\n%s", waitErr, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("ward still running 20s after SIGTERM:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("no shutdown message:\n%s", stderr.String())
	}
}

// waitReady polls (the only waiting in these tests) until the process has
// bound its listeners and the server's metadata and the gateway's
// readiness answer 200, failing if the process exits first or 30s pass.
func waitReady(t *testing.T, hc *http.Client, dev devURLs, exited <-chan struct{}, waitErr *error, stdout, stderr *wardtest.SyncBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			if strings.Contains(stderr.String(), "address already in use") {
				// Another process took a free port between the check
				// and the start.
				t.Skipf("ward serve --dev could not bind a port that was free a moment before:\n%s", stderr.String())
			}
			t.Fatalf("ward exited before it was ready (%v):\n%s", *waitErr, stderr.String())
		default:
		}
		// ward prints its addresses once it holds all three listeners,
		// so what answers then is this process, not another ward.
		bound := strings.Contains(stdout.String(), "ward: gateway "+dev.gateway)
		if bound && ok(hc, dev.issuer+"/.well-known/oauth-authorization-server") && ok(hc, dev.admin+"/readyz") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ward not ready after 30s:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ok(hc *http.Client, u string) bool {
	resp, err := hc.Get(u)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func get(t *testing.T, hc *http.Client, u string) string {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return string(b)
}
