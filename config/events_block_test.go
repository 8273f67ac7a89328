package config_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
)

// TestBlockDefaults: blocking is on for addresses, off for keys, and a
// file that turns the key kind on keeps the default thresholds.
func TestBlockDefaults(t *testing.T) {
	c, err := load("ward.yaml", base, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	b := c.Events.Responses.Block
	if !b.Enabled || !b.Address.Enabled || b.Key.Enabled || b.Address.Threshold != 20 || b.Address.MaxPeriod != time.Hour {
		t.Fatalf("defaults %+v", b)
	}
	c, err = load("ward.yaml", base+`events:
  responses:
    block:
      key: {enabled: true}
      address: {threshold: 50}
      allow: [192.0.2.7, "10.0.0.0/8", "2001:db8::/32"]
`, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	b = c.Events.Responses.Block
	if !b.Key.Enabled || b.Key.Threshold != 10 || b.Address.Threshold != 50 || b.Address.Window != time.Minute ||
		len(b.Allow) != 3 || b.Allow[0].Prefix != netip.MustParsePrefix("192.0.2.7/32") {
		t.Fatalf("overlay %+v", b)
	}
}

func TestBlockErrors(t *testing.T) {
	for yaml, want := range map[string]string{
		"      address: {threshold: 0}\n":                          `ward.yaml:7: events.responses.block.address.threshold: must be between 1 and 1000000`,
		"      key: {enabled: true, period: 2h, max_period: 1h}\n": `ward.yaml:7: events.responses.block.key.max_period: must be between period and 24h`,
		"      address: {max_period: 48h}\n":                       `ward.yaml:7: events.responses.block.address.max_period: must be between period and 24h`,
		"      allow: [10.0.0.1/8]\n":                              `ward.yaml:7: events.responses.block.allow[0]: "10.0.0.1/8": not a network address (write 10.0.0.0/8)`,
		"      allow: [example.com]\n":                             `ward.yaml:7: events.responses.block.allow[0]: "example.com": not an IP address or a CIDR network`,
	} {
		_, err := load("ward.yaml", base+"events:\n  responses:\n    block:\n"+yaml, noEnv)
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, config.ErrInvalidValue) {
			t.Errorf("%s: %v\nwant %s", yaml, err, want)
		}
	}
	// A kind turned off is not checked.
	if _, err := load("ward.yaml", base+"events:\n  responses:\n    block:\n      key: {threshold: 0}\n", noEnv); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseAddrPrefix(f *testing.F) {
	for _, s := range []string{"192.0.2.7", "10.0.0.0/8", "10.0.0.1/8", "::ffff:10.0.0.0/104", "2001:db8::/32", "fe80::1%eth0", "", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := config.ParseAddrPrefix(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p.Masked() != p || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			t.Fatalf("%q -> %v", s, p)
		}
		if again, err := config.ParseAddrPrefix(p.String()); err != nil || again != p {
			t.Fatalf("%q -> %v -> %v %v", s, p, again, err)
		}
	})
}
