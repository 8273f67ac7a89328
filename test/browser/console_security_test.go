package browser

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// hostileClient is a client_id chosen to attack the console: markup
// that would run script if a page put it in as HTML.
const hostileClient = `<img src=x onerror="window.__pwned=1">`

// TestConsoleSecurityInChromium drives the console's security pages in
// Chromium (console_security.mjs) against a dev server whose store
// holds events with hostile fields: overview, events with filters and
// live updates, one event, blocks; a screenshot and an accessibility
// audit of each; nothing hostile runs; a non-admin is refused; an
// address blocked for probing the gateway is listed and lifted.
func TestConsoleSecurityInChromium(t *testing.T) {
	node, chromium := tools(t)
	d := startDev(t)
	seedEvents(t, filepath.Join(d.data, "ward.db"))
	makeTraffic(t, d)
	artifacts := artifactsDir("console-security")
	checks := runNode(t, node, "console_security.mjs", "ARTIFACTS="+artifacts, "CHROMIUM="+chromium,
		"CONSOLE_URL="+d.creds.Admin.ConsoleURL, "ADMIN_USER="+d.creds.Admin.Username, "ADMIN_PASSWORD="+d.creds.Admin.Password,
		"WARD_USER="+d.creds.User.Username, "WARD_PASSWORD="+d.creds.User.Password, "HOSTILE_CLIENT="+hostileClient, "GATEWAY_URL=http://"+d.gw)
	shots, _ := filepath.Glob(filepath.Join(artifacts, "*.png"))
	if checks < 20 || len(shots) < 10 {
		t.Fatalf("%d checks, %d screenshots in %s", checks, len(shots), artifacts)
	}
	t.Logf("%d checks passed; %d screenshots in %s", checks, len(shots), artifacts)
}

// seedEvents stores security events in the dev server's SQLite store:
// leaks (one of a hostile client, naming a revoked family), replays and
// refusals over the last hours.
func seedEvents(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	fam := &store.Family{ID: "fam-leaked", ClientID: hostileClient, Subject: "alice", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.CreateFamily(ctx, fam, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeFamily(ctx, fam.ID, "token_leaked", now); err != nil {
		t.Fatal(err)
	}
	ev := func(ago time.Duration, typ, sev, client, reason string) store.SecurityEvent {
		return store.SecurityEvent{Time: now.Add(-ago), Type: typ, Severity: sev, Instance: "dev", ClientID: client,
			Subject: "alice", ClientAddr: "192.0.2.7", Route: "orders", Reason: reason, Expires: now.Add(24 * time.Hour)}
	}
	leak := ev(2*time.Minute, "token_leaked", "critical", hostileClient, `jkt_mismatch</td><script>window.__pwned=1</script>`)
	leak.FamilyID, leak.Route = fam.ID, `"><svg onload="window.__pwned=1">`
	evs := []store.SecurityEvent{leak,
		ev(50*time.Minute, "token_leaked", "critical", "demo-spa", "dpop_token_as_bearer"),
		ev(3*time.Hour, "refresh_replayed", "critical", "demo-spa", "refresh_token_reused"),
	}
	for i := range 24 {
		evs = append(evs, ev(time.Duration(i)*17*time.Minute+time.Minute, "proof_replayed", "warning", "demo-cli", "replayed"),
			ev(time.Duration(i)*23*time.Minute+time.Minute, "nonce_failure", "info", "demo-cli", "nonce_invalid"))
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
}

// makeTraffic sends the dev gateway requests the overview charts:
// accepted calls with a DPoP-bound token of the demo service, refusals
// without a token and with a malformed one.
func makeTraffic(t *testing.T, d *devServer) {
	t.Helper()
	ctx := context.Background()
	var creds struct {
		Service struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		} `json:"confidential_client"`
	}
	raw, err := os.ReadFile(filepath.Join(d.data, "dev-credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &creds); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	c, err := client.Discover(ctx, d.creds.Issuer, creds.Service.ClientID,
		client.WithClientSecret(creds.Service.ClientSecret, client.AuthStyleBasic), client.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	api := c.HTTPClient(c.ClientCredentialsTokenSource())
	whoami := "http://" + d.gw + "/demo/whoami"
	call := func(hc *http.Client, auth string, want int) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, whoami, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %q: %d, want %d", whoami, auth, resp.StatusCode, want)
		}
	}
	for range 6 {
		call(api, "", http.StatusOK)
	}
	for range 4 {
		call(hc, "", http.StatusUnauthorized)
	}
	for range 3 {
		call(hc, "Bearer not-a-token", http.StatusUnauthorized)
	}
}
