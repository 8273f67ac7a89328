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
