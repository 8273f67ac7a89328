package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Events configures the security events (docs/EVENTS.md): the emitter's
// queue, the store's retention, and the automatic responses.
type Events struct {
	// Enabled turns the events on. Default true: the log line and the
	// stored row of each event; an accepted request costs nothing.
	Enabled bool `yaml:"enabled"`
	// Queue is how many events wait for the writer before new ones are
	// dropped (and counted). Default 4096, at most MaxEventQueue.
	Queue Count `yaml:"queue"`
	// Retention is how long the store keeps an event. Default 720h (30
	// days); at least 1h.
	Retention time.Duration `yaml:"retention"`
	// Responses are what Ward does on an event, per type.
	Responses EventResponses `yaml:"responses"`
	// Push sends a gateway-only process's events to the authorization
	// server as SETs (events_push.go); Receive accepts them there.
	Push    EventPush    `yaml:"push"`
	Receive EventReceive `yaml:"receive"`
	// Webhooks receive chosen events as signed JSON (events_webhooks.go).
	Webhooks []Webhook `yaml:"webhooks"`
}

// MaxEventQueue bounds events.queue (about 300 bytes an event).
const MaxEventQueue = 1 << 20

// EventResponses are the automatic responses, one section per event type.
type EventResponses struct {
	TokenLeaked TokenLeakedResponse `yaml:"token_leaked"`
	// Block blocks an address or a DPoP key that sends forged or
	// mangled credentials again and again (package block).
	Block BlockResponse `yaml:"block"`
}

// BlockResponse is the blocking response (docs/EVENTS.md, "Blocking").
type BlockResponse struct {
	// Enabled turns blocking on. Default true (the address kind only).
	Enabled bool `yaml:"enabled"`
	// Address blocks a client address (IPv6 by /64), as derived behind
	// trusted proxies. Default on: 20 offences in 1m block for 1m,
	// doubling per repeat up to 1h.
	Address BlockPolicy `yaml:"address"`
	// Key blocks the DPoP key a verified access token is bound to.
	// Default off (docs/DECISIONS.md): whoever holds a leaked token can
	// get its key blocked; 10 offences in 1m when turned on.
	Key BlockPolicy `yaml:"key"`
	// Allow lists addresses and CIDR networks never blocked nor counted
	// (an operator's monitors).
	Allow []AddrPrefix `yaml:"allow"`
}

// BlockPolicy is one kind's thresholds.
type BlockPolicy struct {
	Enabled   bool          `yaml:"enabled"`
	Threshold Count         `yaml:"threshold"`  // offences within window
	Window    time.Duration `yaml:"window"`     // at least 1s
	Period    time.Duration `yaml:"period"`     // first block; at least 1s
	MaxPeriod time.Duration `yaml:"max_period"` // cap of the doubling; at most 24h
}

// MaxBlockPeriod caps events.responses.block.*.max_period: every block
// expires within a day.
const MaxBlockPeriod = 24 * time.Hour

// AddrPrefix is an address or a CIDR network: a bare address is its /32
// or /128.
type AddrPrefix struct{ netip.Prefix }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *AddrPrefix) UnmarshalText(text []byte) error {
	p, err := ParseAddrPrefix(string(text))
	if err != nil {
		return err
	}
	a.Prefix = p
	return nil
}

// ParseAddrPrefix parses an address ("192.0.2.7", its /32) or a CIDR
// network ("10.0.0.0/8", the network address itself). IPv4-mapped IPv6
// is taken as IPv4; zones are refused.
func ParseAddrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("not a CIDR network such as 10.0.0.0/8")
		}
		if p.Masked() != p {
			return netip.Prefix{}, fmt.Errorf("not a network address (write %s)", p.Masked())
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("an IPv4-mapped network needs at least 96 bits")
			}
			return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96), nil
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("not an IP address or a CIDR network")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// TokenLeakedResponse is the response to a token_leaked event.
type TokenLeakedResponse struct {
	// RevokeFamily revokes the leaked access token's grant (its refresh
	// token family): the legitimate client signs in again, the thief's
	// copies die. Default true. Only the two DPoP leak proofs trigger it
	// (docs/EVENTS.md, "Responses"), never a proof that fails to verify.
	RevokeFamily bool `yaml:"revoke_family"`
}

// DefaultEvents is the events section's default.
func DefaultEvents() Events {
	return Events{Enabled: true, Queue: 4096, Retention: 30 * 24 * time.Hour,
		Responses: EventResponses{TokenLeaked: TokenLeakedResponse{RevokeFamily: true}, Block: BlockResponse{Enabled: true,
			Address: BlockPolicy{Enabled: true, Threshold: 20, Window: time.Minute, Period: time.Minute, MaxPeriod: time.Hour},
			Key:     BlockPolicy{Enabled: false, Threshold: 10, Window: time.Minute, Period: time.Minute, MaxPeriod: time.Hour}}}}
}

// events checks the events section.
func (v *validator) events() {
	e := v.c.Events
	if e.Queue < 1 || e.Queue > MaxEventQueue {
		v.add("events.queue", ErrInvalidValue, "must be between 1 and %d", MaxEventQueue)
	}
	if e.Retention < time.Hour {
		v.add("events.retention", ErrInvalidValue, "must be at least 1h")
	}
	v.eventPush()
	v.eventReceive()
	names := map[string]bool{}
	for i := range e.Webhooks {
		v.webhook(i, names)
	}
	b := e.Responses.Block
	for _, k := range []struct {
		name string
		p    BlockPolicy
	}{{"address", b.Address}, {"key", b.Key}} {
		if b.Enabled && k.p.Enabled {
			v.blockPolicy("events.responses.block."+k.name, k.p)
		}
	}
}

func (v *validator) blockPolicy(path string, p BlockPolicy) {
	if p.Threshold < 1 || p.Threshold > 1_000_000 {
		v.add(path+".threshold", ErrInvalidValue, "must be between 1 and 1000000")
	}
	if p.Window < time.Second || p.Window > MaxBlockPeriod {
		v.add(path+".window", ErrInvalidValue, "must be between 1s and 24h")
	}
	if p.Period < time.Second || p.Period > MaxBlockPeriod {
		v.add(path+".period", ErrInvalidValue, "must be between 1s and 24h")
	}
	if p.MaxPeriod < p.Period || p.MaxPeriod > MaxBlockPeriod {
		v.add(path+".max_period", ErrInvalidValue, "must be between period and 24h")
	}
}
