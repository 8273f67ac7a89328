package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/store/sqlstore"
)

// TestServeConsole: `ward serve` with console.enabled serves the
// console's shell under its prefix and its sign-in through Ward (PAR in
// process), and declares its client.
func TestServeConsole(t *testing.T) {
	dir := t.TempDir()
	addr := wardtest.FreeAddr(t)
	secret := filepath.Join(dir, "console.secret")
	if err := os.WriteFile(secret, []byte(wardtest.RandKey()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startServer(t, dir, fmt.Sprintf(`issuer: https://as.example
behind_tls_proxy: {trusted_proxies: [10.0.0.0/8]}
listen: %s
data_dir: %q
keys: {kek_file: %q}
console: {enabled: true, client_secret_file: %q, path_prefix: /admin}
`, addr, dir, writeKEK(t, dir), secret))
	hc := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var resp *http.Response
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		resp, err = hc.Get("http://" + addr + "/admin/clients")
		if err == nil || time.Now().After(deadline) {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "require-trusted-types-for") {
		t.Fatalf("shell: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err := hc.Get("http://" + addr + "/admin/bff/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || !strings.HasPrefix(loc, "https://as.example/authorize?client_id=ward-console&request_uri=") {
		t.Fatalf("login: %d %q", resp.StatusCode, loc)
	}
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := st.GetClient(context.Background(), "ward-console")
	if err != nil || c.RedirectURIs[0] != "https://as.example/admin/bff/callback" || !c.Static {
		t.Fatalf("console client %+v, %v", c, err)
	}
}
