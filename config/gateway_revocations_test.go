package config_test

import (
	"errors"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
)

// TestGatewayRevocations: defaults, and each mistake in
// gateway.revocations named with its key and line.
func TestGatewayRevocations(t *testing.T) {
	c, err := load("ward.yaml", gwBase+"  revocations: {client_id: gw, client_secret_file: /s}\n", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Gateway.Revocations.Settings()
	if r.Interval != time.Second || r.StaleAfter != 30*time.Second || r.OnStale != "refuse" || r.MaxEntries != 100_000 ||
		r.FeedURL(c.GatewayIssuer()) != "https://as.example/revocations" {
		t.Errorf("defaults: %+v", r)
	}
	for _, tt := range []struct{ name, yaml, want string }{
		{"on_stale", "  revocations: {on_stale: ignore}\n",
			`ward.yaml:19: gateway.revocations.on_stale: "ignore" is not one of refuse, serve`},
		{"interval", "  revocations: {interval: 10ms}\n",
			`ward.yaml:19: gateway.revocations.interval: must be at least 100ms (0: default 1s)`},
		{"stale_after", "  revocations: {interval: 5s, stale_after: 5s}\n",
			`ward.yaml:19: gateway.revocations.stale_after: 5s must be longer than the interval 5s`},
		{"secret", "  revocations: {client_id: gw}\n",
			`ward.yaml:19: gateway.revocations.client_secret_file: required with client_id (a file holding the client's secret)`},
		{"url", "  revocations: {url: ftp://as/revocations}\n",
			`ward.yaml:19: gateway.revocations.url: "ftp://as/revocations" is not an http(s) URL`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load("ward.yaml", gwBase+tt.yaml, noEnv)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got  %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, config.ErrInvalidValue) && !errors.Is(err, config.ErrMissing) {
				t.Errorf("wraps neither ErrInvalidValue nor ErrMissing: %v", err)
			}
		})
	}
}
