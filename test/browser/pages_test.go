package browser

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/authztest"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// signInURL matches the URL `ward token --authorization-code --no-browser`
// prints.
var signInURL = regexp.MustCompile(`(?m)^  (http://127\.0\.0\.1:[0-9]+/authorize\?\S+)$`)

// startToken runs `ward token --dev --authorization-code --no-browser`
// and returns the process and the sign-in URL it printed.
func startToken(t *testing.T, d *devServer) (*wardtest.Process, string) {
	t.Helper()
	p := wardtest.Start(t, d.bin, nil, "token", "--dev", "--data", d.data, "--authorization-code", "--no-browser", "--timeout", "2m")
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := signInURL.FindStringSubmatch(p.Output()); m != nil {
			return p, m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("ward token printed no sign-in URL:\n%s", p.Output())
	return nil, ""
}

// brandServer is an authorization server with an operator's brand and a
// client with a logo, the logos served over https by logos.
func brandServer(t *testing.T) (*authztest.Server, *httptest.Server) {
	t.Helper()
	logos := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		fill := "#7b2cbf"
		if r.URL.Path == "/app.svg" {
			fill = "#e4572e"
		}
		_, _ = w.Write([]byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="` + fill +
			`"/><circle cx="32" cy="32" r="14" fill="#fff"/></svg>`))
	}))
	t.Cleanup(logos.Close)
	as := authztest.New(t, authztest.Options{
		Config: func(c *config.Config) {
			c.UI.Brand = config.Brand{Name: "Acme Travel", PrimaryColor: "#7b2cbf", LogoURL: logos.URL + "/brand.svg"}
		},
		Clients: []store.Client{{
			ID: "trips", Name: "Trip Planner", AuthMethod: oauth.AuthNone, RedirectURIs: []string{"http://127.0.0.1/callback"},
			Scopes: []string{"openid", "profile", "trips:read", "offline_access"}, GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode},
			LogoURI: logos.URL + "/app.svg", ClientURI: "https://trips.example/",
		}},
		Users: []authztest.User{{Subject: "u-alice", Username: "alice", Password: "correct horse battery staple"}},
	})
	return as, logos
}

// TestPagesInChromium screenshots every page a person sees, at desktop
// (1280 px) and phone (390 px) widths, into test-artifacts/pages, and
// checks each for basic accessibility (lang, labels, alt text, contrast,
// no horizontal scroll on a phone) and CSP violations: the issuer's
// landing page, login (with a wrong password, in French), consent (in
// German), error pages, the CLI's loopback page (signed in, and after
// the login page's cancel link), the demo app, the BFF's refusal page,
// and the same pages under an operator's brand with a client logo.
func TestPagesInChromium(t *testing.T) {
	node, chromium := tools(t)
	d := startDev(t)
	brand, _ := brandServer(t)
	artifacts := artifactsDir("pages")
	okRun, okURL := startToken(t, d)
	cancelRun, cancelURL := startToken(t, d)

	checks := runNode(t, node, "pages.mjs", "ARTIFACTS="+artifacts, "CHROMIUM="+chromium,
		"ISSUER="+d.creds.Issuer, "APP_URL="+d.creds.BFF.AppURL, "PUBLIC_CLIENT="+d.creds.Public.ClientID,
		"WARD_USER="+d.creds.User.Username, "WARD_PASSWORD="+d.creds.User.Password,
		"TOKEN_OK_URL="+okURL, "TOKEN_CANCEL_URL="+cancelURL,
		"BRAND_ISSUER="+brand.URL, "BRAND_CLIENT=trips", "BRAND_USER=alice", "BRAND_PASSWORD=correct horse battery staple")
	if code, ok := okRun.Wait(30 * time.Second); !ok || code != 0 {
		t.Errorf("ward token after signing in: exit %d (exited %v)\n%s", code, ok, okRun.Output())
	}
	if code, ok := cancelRun.Wait(30 * time.Second); !ok || code == 0 || !strings.Contains(cancelRun.Output(), oauth.AccessDenied) {
		t.Errorf("ward token after cancelling: exit %d (exited %v)\n%s", code, ok, cancelRun.Output())
	}
	shots, _ := filepath.Glob(filepath.Join(artifacts, "*.png"))
	if len(shots) < 30 || checks < 60 {
		t.Fatalf("%d screenshots in %s and %d checks", len(shots), artifacts, checks)
	}
	if _, err := os.Stat(filepath.Join(artifacts, "login-en-phone.png")); err != nil {
		t.Error(err)
	}
	t.Logf("%d checks passed; %d screenshots in %s", checks, len(shots), artifacts)
}
