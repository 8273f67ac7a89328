package browser

import (
	"path/filepath"
	"testing"
)

// TestConsoleInChromium drives the admin console in Chromium
// (console.mjs): every page and action as the dev administrator, with a
// screenshot and an accessibility audit of each page; a user without
// the admin role refused; a cross-site call refused.
func TestConsoleInChromium(t *testing.T) {
	node, chromium := tools(t)
	d := startDev(t)
	artifacts := artifactsDir("console")
	checks := runNode(t, node, "console.mjs", "ARTIFACTS="+artifacts, "CHROMIUM="+chromium,
		"CONSOLE_URL="+d.creds.Admin.ConsoleURL, "ADMIN_USER="+d.creds.Admin.Username, "ADMIN_PASSWORD="+d.creds.Admin.Password,
		"WARD_USER="+d.creds.User.Username, "WARD_PASSWORD="+d.creds.User.Password)
	shots, _ := filepath.Glob(filepath.Join(artifacts, "*.png"))
	if checks < 10 || len(shots) < 6 {
		t.Fatalf("%d checks, %d screenshots in %s", checks, len(shots), artifacts)
	}
	if out := d.p.Output(); containsJWT(out) {
		t.Error("the server's output contains a JWT")
	}
	t.Logf("%d checks passed; %d screenshots in %s", checks, len(shots), artifacts)
}

func containsJWT(s string) bool {
	for i := 0; i+3 < len(s); i++ {
		if s[i:i+3] == "eyJ" {
			return true
		}
	}
	return false
}
