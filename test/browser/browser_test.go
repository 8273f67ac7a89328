package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/wardtest"
)

// missing skips, or fails under WARD_TEST_REQUIRE_BROWSER=1.
func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("WARD_TEST_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (set WARD_TEST_REQUIRE_BROWSER=1 to fail instead)")
}

// tools are node and chromium, or the test skips.
func tools(t *testing.T) (node, chromium string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a browser; skipped with -short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not installed")
	}
	if _, err := os.Stat("node_modules/playwright-core"); err != nil {
		missing(t, "playwright-core is not installed: run npm ci --prefix test/browser")
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing(t, chromium+" is not installed: apt-get install chromium")
	}
	return node, chromium
}

// devServer is `ward serve --dev` on the dev ports, with its credentials.
type devServer struct {
	bin, data string
	as, gw    string // the authorization server's and gateway's addresses
	admin     string // the admin listener's address (metrics, health)
	p         *wardtest.Process
	creds     struct {
		User struct {
			Username, Password string
		} `json:"user"`
		Issuer string `json:"issuer"`
		Public struct {
			ClientID string `json:"client_id"`
		} `json:"public_client"`
		BFF struct {
			AppURL string `json:"app_url"`
		} `json:"bff_client"`
		Admin struct {
			Username   string `json:"username"`
			Password   string `json:"password"`
			ConsoleURL string `json:"console_url"`
		} `json:"admin"`
	}
}

// startDev builds ward and runs `ward serve --dev` until the test ends.
func startDev(t *testing.T) *devServer {
	t.Helper()
	dir := t.TempDir()
	bin, err := wardtest.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Free ports, so that the test runs beside a developer's own dev
	// server on 9000-9002.
	d := &devServer{bin: bin, data: filepath.Join(dir, "data"),
		as: wardtest.FreeAddr(t), gw: wardtest.FreeAddr(t), admin: wardtest.FreeAddr(t)}
	d.p = wardtest.Start(t, bin, nil, "serve", "--dev", "--data", d.data, "--listen", d.as, "--gateway-listen", d.gw, "--admin-listen", d.admin)
	hc := &http.Client{Timeout: 5 * time.Second}
	d.p.WaitReady(t, hc, "http://"+d.as+"/.well-known/oauth-authorization-server", "http://"+d.admin+"/readyz")
	raw, err := os.ReadFile(filepath.Join(d.data, "dev-credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &d.creds); err != nil {
		t.Fatal(err)
	}
	return d
}

// artifactsDir is where a test's screenshots go (gitignored
// test-artifacts/ under the module root, or $WARD_TEST_ARTIFACTS), emptied.
func artifactsDir(name string) string {
	root, _ := wardtest.ModuleRoot()
	artifacts := os.Getenv("WARD_TEST_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(root, "test-artifacts")
	}
	artifacts = filepath.Join(artifacts, name)
	os.RemoveAll(artifacts)
	return artifacts
}

func TestBFFInChromium(t *testing.T) {
	node, chromium := tools(t)
	d := startDev(t)
	p, creds := d.p, d.creds
	if !strings.Contains(p.Output(), "demo browser app          http://"+d.gw+"/app/") {
		t.Fatalf("ward serve --dev does not point a new user at the demo app:\n%s", p.Output())
	}
	artifacts := artifactsDir("browser")

	checks := runNode(t, node, "bff.mjs", "APP_URL="+creds.BFF.AppURL, "WARD_USER="+creds.User.Username,
		"WARD_PASSWORD="+creds.User.Password, "ARTIFACTS="+artifacts, "CHROMIUM="+chromium,
		"ISSUER="+creds.Issuer, "PUBLIC_CLIENT="+creds.Public.ClientID)
	if checks < 15 {
		t.Fatalf("only %d browser checks ran", checks)
	}
	shots, _ := filepath.Glob(filepath.Join(artifacts, "*.png"))
	if len(shots) < 7 {
		t.Fatalf("%d screenshots in %s, want one per step", len(shots), artifacts)
	}
	t.Logf("%d checks passed; screenshots in %s", checks, artifacts)

	// The server's side of the story: one login, one logout, and the
	// three cross-site attempts refused by the CSRF check: the CORS
	// preflight of the API call (it carries no X-Ward-CSRF value), the
	// no-cors POST and the form POST to logout.
	ev := bffEvents(t, "http://"+d.admin+"/metrics")
	for k, want := range map[string]float64{"callback/ok": 1, "logout/ok": 1, "api/csrf_header": 1, "logout/csrf_header": 2, "api/ok": 1} {
		if ev[k] != want {
			t.Errorf("ward_bff_events_total %s = %v, want %v (all: %v)", k, ev[k], want, ev)
		}
	}
	// No token or secret in the server's log.
	if strings.Contains(p.Output(), "eyJ") {
		t.Error("the server's output contains a JWT")
	}
}

// runNode runs a script of this folder with env added, reports each of
// its JSON check lines, and returns how many passed. The script prints
// {"check": name, "ok": bool, "detail": any} per check and {"done": true}
// at the end.
func runNode(t *testing.T, node, script string, env ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), env...)
	stdout, _ := cmd.StdoutPipe()
	var stderr wardtest.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	checks, done := 0, false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var line struct {
			Check  string `json:"check"`
			OK     bool   `json:"ok"`
			Detail any    `json:"detail"`
			Done   bool   `json:"done"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			t.Logf("node: %s", sc.Text())
			continue
		}
		switch {
		case line.Done:
			done = true
		case line.OK:
			checks++
			t.Logf("ok: %s", line.Check)
		default:
			t.Errorf("browser check failed: %s: %v", line.Check, line.Detail)
		}
	}
	if err := cmd.Wait(); err != nil || !done {
		t.Fatalf("%s: %v (completed: %v)\n%s", script, err, done, stderr.String())
	}
	return checks
}

// bffEvents is ward_bff_events_total of the demo site by
// "endpoint/outcome".
func bffEvents(t *testing.T, u string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range wardtest.Metric(t, u, "ward_bff_events_total") {
		if s.Labels["site"] == "demo" {
			out[s.Labels["endpoint"]+"/"+s.Labels["outcome"]] += s.Value
		}
	}
	return out
}
