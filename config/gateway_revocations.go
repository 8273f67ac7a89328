package config

import (
	"net/url"
	"time"
)

// GatewayRevocations configures the revocation feed the gateway follows
// (package revocation, docs/GATEWAY.md "Revocation feed"): access tokens
// revoked at the authorization server are refused at the gateway within
// Interval, instead of working until they expire.
//
// With the authorization server in the same process, the feed is read
// from the store and needs no setting. A gateway alone polls the
// authorization server's /revocations endpoint as ClientID, a
// confidential client registered with the scope ward:revocations; without
// ClientID it has no feed (and says so at start).
type GatewayRevocations struct {
	// Disabled turns the feed off, even in process.
	Disabled bool `yaml:"disabled"`
	// URL of the feed. Default: the issuer followed by /revocations.
	URL string `yaml:"url"`
	// ClientID authenticates the gateway at the feed (client_secret_basic).
	ClientID string `yaml:"client_id"`
	// ClientSecretFile holds the client's secret (one line). Required with
	// ClientID.
	ClientSecretFile string `yaml:"client_secret_file"`
	// Interval between polls. Default 1s; at least 100ms.
	Interval time.Duration `yaml:"interval"`
	// StaleAfter: with no successful poll for this long, the feed is
	// stale: /readyz and the log say so, and OnStale applies. Default
	// 30s; more than Interval.
	StaleAfter time.Duration `yaml:"stale_after"`
	// OnStale is refuse (default: every token gets 503
	// temporarily_unavailable, reason revocations_stale) or serve (keep
	// serving from the revocations already held).
	OnStale string `yaml:"on_stale"`
	// MaxEntries bounds the revocations held. Default 100000. When full,
	// every token issued before a revocation that does not fit is
	// refused until it expires.
	MaxEntries Count `yaml:"max_entries"`
}

// Defaults of gateway.revocations.
const (
	DefaultRevocationInterval   = time.Second
	DefaultRevocationStaleAfter = 30 * time.Second
	DefaultRevocationMaxEntries = 100_000
	minRevocationInterval       = 100 * time.Millisecond
)

// Settings returns r with its defaults filled in.
func (r GatewayRevocations) Settings() GatewayRevocations {
	if r.Interval == 0 {
		r.Interval = DefaultRevocationInterval
	}
	if r.StaleAfter == 0 {
		r.StaleAfter = DefaultRevocationStaleAfter
	}
	if r.OnStale == "" {
		r.OnStale = "refuse"
	}
	if r.MaxEntries == 0 {
		r.MaxEntries = DefaultRevocationMaxEntries
	}
	return r
}

// FeedURL is gateway.revocations.url, or issuer + /revocations.
func (r GatewayRevocations) FeedURL(issuer string) string {
	if r.URL != "" {
		return r.URL
	}
	return issuer + "/revocations"
}

func (v *validator) gatewayRevocations() {
	const p = "gateway.revocations."
	r := v.c.Gateway.Revocations
	s := r.Settings()
	if r.Interval != 0 && r.Interval < minRevocationInterval {
		v.add(p+"interval", ErrInvalidValue, "must be at least 100ms (0: default 1s)")
	}
	if s.StaleAfter <= s.Interval {
		v.add(p+"stale_after", ErrInvalidValue, "%v must be longer than the interval %v", s.StaleAfter, s.Interval)
	}
	v.oneOf(p+"on_stale", s.OnStale, "refuse", "serve")
	if r.MaxEntries < 0 {
		v.add(p+"max_entries", ErrInvalidValue, "must be positive (0: default 100000)")
	}
	if r.ClientID != "" && r.ClientSecretFile == "" {
		v.add(p+"client_secret_file", ErrMissing, "required with client_id (a file holding the client's secret)")
	}
	if r.URL != "" {
		if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.add(p+"url", ErrInvalidValue, "%q is not an http(s) URL", r.URL)
		}
	}
}
