package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
)

// TestDeviceAuthorizationConfig: device_authorization is off by default,
// its defaults fill in, and a bad lifetime, interval or allowance is
// reported with its key and line.
func TestDeviceAuthorizationConfig(t *testing.T) {
	d := config.Default().DeviceAuthorization
	if d.Enabled {
		t.Fatal("device_authorization is on by default")
	}
	e := d.Effective()
	if e.Lifetime != 10*time.Minute || e.Interval != 5*time.Second || e.UserCodeFailures.IP.Rate != 20 || e.UserCodeFailures.Global.Rate != 600 {
		t.Fatalf("defaults: %+v", e)
	}
	yaml := `issuer: https://as.example
keys: {kek_file: /k}
device_authorization:
  enabled: true
  lifetime: 2h
  interval: 500ms
  user_code_failures:
    ip: {period: 1m}
`
	got := strings.Join(checkLines(t, yaml, noEnv), "\n")
	for _, want := range []string{
		"ward.yaml:5: device_authorization.lifetime: 2h0m0s exceeds the maximum of 30m0s",
		"ward.yaml:6: device_authorization.interval: 500ms is not between 1s and 1m0s",
		"device_authorization.user_code_failures.ip.rate: required",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}
