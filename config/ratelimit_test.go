package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
)

func TestRateLimitsValid(t *testing.T) {
	y := gwBase + `  rate_limits:
    ip: {rate: 600, period: 1m, burst: 100}
    client: {rate: 100, period: 1s}
rate_limits:
  token:
    ip: {rate: 300, period: 1m, burst: 60}
    client: {rate: 600}
  login:
    ip: {rate: 30, burst: 10}
  login_failures:
    account: {free: 3, base_delay: 2s, max_delay: 1m, lock_after: 10, lock_for: 10m, forget: 1h}
    ip: {off: true}
`
	y = strings.Replace(y, "      unauthenticated: true\n", "      unauthenticated: true\n      rate_limits: {ip: {rate: 10, period: 1s}}\n", 1)
	c, err := load("ward.yaml", y, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	rl := c.RateLimits
	if rl.Token.IP.Rate != 300 || rl.Token.IP.Burst != 60 || rl.Token.Client.PeriodOrDefault() != time.Minute || !rl.Login.IP.Enabled() {
		t.Errorf("%+v", rl)
	}
	if rl.PAR.IP.Enabled() {
		t.Error("par limited without configuration")
	}
	if a := rl.LoginFailures.Account; a.Free != 3 || a.LockAfter != 10 || !rl.LoginFailures.IP.Off {
		t.Errorf("%+v", rl.LoginFailures)
	}
	g := c.Gateway
	eff := g.Routes[1].RateLimits.Or(g.RateLimits)
	if eff.IP.Rate != 10 || eff.Client.Rate != 100 {
		t.Errorf("route tiers over gateway tiers: %+v", eff)
	}
	// Defaults: login failures throttled, request rates off.
	d := config.Default().RateLimits
	if d.Token.IP.Enabled() || d.LoginFailures.Account.Off || d.LoginFailures.Account.Free != 5 {
		t.Errorf("defaults %+v", d)
	}
}

func TestRateLimitsErrors(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, want string
		sentinel         error
	}{
		{"not a number", base + "rate_limits:\n  token:\n    ip: {rate: many}\n",
			`ward.yaml:6: rate_limits.token.ip.rate: "many": not a whole number between 0 and 1073741824`, config.ErrInvalidValue},
		{"typo", base + "rate_limits:\n  token:\n    ip: {rte: 5}\n",
			`ward.yaml:6: unknown key "rte" in rate_limits.token.ip (did you mean "rate"?)`, config.ErrUnknownKey},
		{"burst without rate", base + "rate_limits:\n  par:\n    client: {burst: 5}\n",
			`ward.yaml:6: rate_limits.par.client.rate: required when period or burst is set (or write off: true)`, config.ErrMissing},
		{"too fast", base + "rate_limits:\n  token:\n    ip: {rate: 5000, period: 1s}\n",
			`ward.yaml:6: rate_limits.token.ip.rate: 5000 per 1s is more than one request a millisecond`, config.ErrInvalidValue},
		{"subject at token", base + "rate_limits:\n  token:\n    subject: {rate: 5}\n",
			`ward.yaml:6: rate_limits.token.subject: there is no subject at this endpoint; use ip or client`, config.ErrInvalidValue},
		{"login per client", base + "rate_limits:\n  login:\n    client: {rate: 5}\n",
			`ward.yaml:6: rate_limits.login.client: login is limited per ip (and per account by login_failures), not per client`, config.ErrInvalidValue},
		{"lock forever", base + "rate_limits:\n  login_failures:\n    account: {lock_for: 9000h}\n",
			`ward.yaml:6: rate_limits.login_failures.account.lock_for: 9000h0m0s exceeds the maximum of 24h0m0s`, config.ErrInvalidValue},
		{"lock before free", base + "rate_limits:\n  login_failures:\n    ip: {free: 5, lock_after: 5}\n",
			`ward.yaml:6: rate_limits.login_failures.ip.lock_after: must exceed free (5)`, config.ErrInvalidValue},
		{"client tier on a public route", strings.Replace(gwBase, "      unauthenticated: true\n", "      unauthenticated: true\n      rate_limits: {client: {rate: 1}}\n", 1),
			`ward.yaml:19: gateway.routes[1].rate_limits: an unauthenticated route knows no client or subject: only ip applies`, config.ErrInvalidValue},
		{"gateway tier", gwBase + "  rate_limits:\n    subject: {rate: 1, period: -1s}\n",
			`ward.yaml:20: gateway.rate_limits.subject.period: must be positive`, config.ErrInvalidValue},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load("ward.yaml", tt.yaml, noEnv)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("does not wrap %v", tt.sentinel)
			}
		})
	}
}

// TestRateLimitDefaults: with no rate_limits, /token, /par and /login are
// limited per address (3000 a minute, 300 at once) and failed client
// authentication has an allowance per address (100, one more every 3 s)
// and per address and client_id (10, one more every 30 s). A tier the file
// sets is used as written, never mixed with the default burst; off: true
// turns one off; --dev has no per-IP request rates.
func TestRateLimitDefaults(t *testing.T) {
	d := config.Default().RateLimits.Effective()
	want := config.Rate{Rate: 3000, Period: time.Minute, Burst: 300}
	for name, r := range map[string]config.Rate{"token.ip": d.Token.IP, "par.ip": d.PAR.IP, "login.ip": d.Login.IP} {
		if r != want {
			t.Errorf("%s = %+v, want %+v", name, r, want)
		}
	}
	if d.Token.Client.Enabled() || d.PAR.Client.Enabled() {
		t.Errorf("per-client request rates on by default: %+v %+v", d.Token.Client, d.PAR.Client)
	}
	if f := d.ClientAuthFailures; f.IP != (config.Rate{Rate: 100, Period: 5 * time.Minute, Burst: 100}) || f.Client != (config.Rate{Rate: 10, Period: 5 * time.Minute, Burst: 10}) {
		t.Errorf("client_auth_failures = %+v", f)
	}
	c, err := load("ward.yaml", base+`rate_limits:
  token:
    ip: {rate: 100}
  par:
    ip: {off: true}
  client_auth_failures:
    client: {rate: 5, period: 1m}
`, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	e := c.RateLimits.Effective()
	if e.Token.IP != (config.Rate{Rate: 100}) || e.PAR.IP.Enabled() || e.Login.IP != want {
		t.Errorf("token.ip %+v, par.ip %+v, login.ip %+v", e.Token.IP, e.PAR.IP, e.Login.IP)
	}
	if e.ClientAuthFailures.Client != (config.Rate{Rate: 5, Period: time.Minute}) || e.ClientAuthFailures.IP.Rate != 100 {
		t.Errorf("client_auth_failures %+v", e.ClientAuthFailures)
	}
	dev := config.Dev(t.TempDir()).RateLimits.Effective()
	if dev.Token.IP.Enabled() || dev.PAR.IP.Enabled() || dev.Login.IP.Enabled() || !dev.ClientAuthFailures.IP.Enabled() {
		t.Errorf("dev: %+v", dev)
	}
	if _, err := load("ward.yaml", base+"rate_limits:\n  client_auth_failures:\n    subject: {rate: 1}\n", noEnv); err == nil || !strings.Contains(err.Error(), "rate_limits.client_auth_failures.subject") {
		t.Errorf("subject tier: %v", err)
	}
}
