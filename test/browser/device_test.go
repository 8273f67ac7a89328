package browser

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/authztest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// TestDevicePageInChromium: a device (the Go SDK) asks for a code; a
// person opens verification_uri_complete in Chromium, confirms the
// prefilled code, logs in, sees the client, scope and code, and allows
// (device.mjs, screenshots in test-artifacts/device); the device's poll
// then gets a token bound to its DPoP key.
func TestDevicePageInChromium(t *testing.T) {
	node, chromium := tools(t)
	as := authztest.New(t, authztest.Options{
		Config: func(c *config.Config) {
			c.DeviceAuthorization = config.DeviceAuthorization{Enabled: true, Interval: time.Second}
		},
		Clients: []store.Client{{ID: "tv", Name: "Living Room TV", AuthMethod: oauth.AuthNone,
			GrantTypes: []oauth.GrantType{oauth.GrantDeviceCode}, Scopes: []string{"read"}, Audiences: []string{"https://api.example"}}},
		Users: []authztest.User{{Subject: "u-alice", Username: "alice", Password: "correct horse battery staple"}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := client.Discover(ctx, as.URL, "tv", client.WithScopes("read"))
	if err != nil {
		t.Fatal(err)
	}
	da, err := c.DeviceAuthorize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	artifacts := artifactsDir("device")
	checks := runNode(t, node, "device.mjs", "ARTIFACTS="+artifacts, "CHROMIUM="+chromium, "ISSUER="+as.URL,
		"VERIFY_URL="+da.VerificationURIComplete, "USER_CODE="+da.UserCode,
		"WARD_USER=alice", "WARD_PASSWORD=correct horse battery staple")
	tok, err := c.PollDeviceToken(ctx, da)
	if err != nil {
		t.Fatalf("device poll after the approval in Chromium: %v", err)
	}
	if tok.TokenType != oauth.TokenTypeDPoP {
		t.Fatalf("token type %q", tok.TokenType)
	}
	shots, _ := filepath.Glob(filepath.Join(artifacts, "*.png"))
	if len(shots) != 10 || checks < 12 {
		t.Fatalf("%d screenshots in %s and %d checks", len(shots), artifacts, checks)
	}
	if _, err := os.Stat(filepath.Join(artifacts, "device-confirm-phone.png")); err != nil {
		t.Error(err)
	}
	t.Logf("%d checks passed; %d screenshots in %s", checks, len(shots), artifacts)
}
