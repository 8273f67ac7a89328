package config

import "time"

// DeviceAuthorization configures the device authorization grant (RFC
// 8628; docs/DEVICE.md): the /device_authorization endpoint, the /device
// verification page and the device_code grant at /token. Off by default.
type DeviceAuthorization struct {
	// Enabled serves the endpoints and the grant. Clients also need the
	// grant type urn:ietf:params:oauth:grant-type:device_code.
	Enabled bool `yaml:"enabled"`
	// Lifetime of a device_code and its user_code (expires_in). Default
	// 10m, at most MaxDeviceLifetime.
	Lifetime time.Duration `yaml:"lifetime"`
	// Interval is the minimum time between polls (RFC 8628 §3.2); each
	// early poll adds 5s (§3.5). Default 5s, between 1s and 60s.
	Interval time.Duration `yaml:"interval"`
	// UserCodeFailures bounds wrong user codes entered on /device (RFC
	// 8628 §5.1): per client address and over all addresses. Once spent,
	// code entry is refused with 429 until the allowance refills.
	UserCodeFailures DeviceFailures `yaml:"user_code_failures"`
}

// DeviceFailures are the allowances of wrong user codes.
type DeviceFailures struct {
	IP     Rate `yaml:"ip"`
	Global Rate `yaml:"global"`
}

// Limits and defaults of device_authorization.
const (
	MaxDeviceLifetime  = 30 * time.Minute
	MinDeviceInterval  = time.Second
	MaxDeviceInterval  = time.Minute
	defaultDeviceLife  = 10 * time.Minute
	defaultDevicePolls = 5 * time.Second
)

// Effective is d with its defaults: lifetime 10m, interval 5s, 20 wrong
// codes per address an hour (burst 20) and 600 an hour overall (burst
// 100).
func (d DeviceAuthorization) Effective() DeviceAuthorization {
	if d.Lifetime == 0 {
		d.Lifetime = defaultDeviceLife
	}
	if d.Interval == 0 {
		d.Interval = defaultDevicePolls
	}
	if d.UserCodeFailures.IP.Rate == 0 && !d.UserCodeFailures.IP.Off {
		d.UserCodeFailures.IP = Rate{Rate: 20, Period: time.Hour, Burst: 20}
	}
	if d.UserCodeFailures.Global.Rate == 0 && !d.UserCodeFailures.Global.Off {
		d.UserCodeFailures.Global = Rate{Rate: 600, Period: time.Hour, Burst: 100}
	}
	return d
}

func (v *validator) deviceAuthorization() {
	d := v.c.DeviceAuthorization
	if d.Lifetime != 0 {
		v.positive("device_authorization.lifetime", d.Lifetime, MaxDeviceLifetime)
	}
	if i := d.Interval; i != 0 && (i < MinDeviceInterval || i > MaxDeviceInterval) {
		v.add("device_authorization.interval", ErrInvalidValue, "%v is not between %v and %v", i, MinDeviceInterval, MaxDeviceInterval)
	}
	v.rate("device_authorization.user_code_failures.ip", d.UserCodeFailures.IP)
	v.rate("device_authorization.user_code_failures.global", d.UserCodeFailures.Global)
}
