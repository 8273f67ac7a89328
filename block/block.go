package block

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/wardauth/ward/ratelimit"
)

// Kind is what a block names.
type Kind string

// The kinds of block.
const (
	// Address is a client address as the gateway derives it behind
	// trusted proxies; an IPv6 address is blocked by its /64
	// (ratelimit.IPKey), as it is rate-limited.
	Address Kind = "address"
	// Key is a DPoP key by its RFC 7638 thumbprint (jkt).
	Key Kind = "key"
)

// Kinds lists every Kind.
var Kinds = []Kind{Address, Key}

// Block is one address or key refused until Until.
type Block struct {
	Kind  Kind
	Value string // the address key (ratelimit.IPKey) or the jkt
	// Until is when the block ends by itself.
	Until time.Time
	// Offences counts the blocks of this value in a row (1 for the first):
	// each lasts twice the one before, up to the policy's MaxPeriod.
	Offences int
}

// Admin is what an operator needs (the admin console, `ward blocks`):
// the blocks in force, and lifting one. The Blocker implements it (its
// Lift emits block_lifted); so does Stored, for a process that only
// reads and lifts (the CLI).
type Admin interface {
	// List returns the blocks in force, those ending last first.
	List(ctx context.Context) ([]Block, error)
	// Lift ends the block of (kind, value) and forgets its offences. It
	// reports whether a block was in force. Lifting what is not blocked
	// is no error. value is as List returns it; read what a person typed
	// with ParseAddress or ParseKey first.
	Lift(ctx context.Context, kind Kind, value string) (bool, error)
}

// Store keeps strikes and blocks. Implementations are safe for
// concurrent use and take the time from the caller (tests inject it).
type Store interface {
	// List returns the blocks in force at now, those ending last first.
	List(ctx context.Context, now time.Time) ([]Block, error)
	// Lift ends the block of (kind, value) and forgets its offences; it
	// reports whether a block was in force at now.
	Lift(ctx context.Context, kind Kind, value string, now time.Time) (bool, error)
	// Check returns when the block of (kind, value) ends, or the zero
	// time when it is not blocked at now.
	Check(ctx context.Context, kind Kind, value string, now time.Time) (time.Time, error)
	// Strike records one offence of (kind, value) at now. When it reaches
	// the policy's threshold within its window, a block starts: Strike
	// returns it and true. Strikes while blocked change nothing.
	Strike(ctx context.Context, kind Kind, value string, now time.Time, p Policy) (Block, bool, error)
}

// Policy is when a kind is blocked and for how long.
type Policy struct {
	// Threshold offences within Window start a block.
	Threshold int
	Window    time.Duration
	// Period is the first block's length; each repeat offence doubles
	// it, up to MaxPeriod. A repeat is a block that starts before
	// MaxPeriod has passed since the last one ended; after that the
	// offences are forgotten.
	Period, MaxPeriod time.Duration
}

// ErrPolicy reports an unusable Policy.
var ErrPolicy = errors.New("block: invalid policy")

// Validate checks p.
func (p Policy) Validate() error {
	switch {
	case p.Threshold < 1:
		return fmt.Errorf("%w: threshold must be at least 1", ErrPolicy)
	case p.Window < time.Second:
		return fmt.Errorf("%w: window must be at least 1s", ErrPolicy)
	case p.Period < time.Second:
		return fmt.Errorf("%w: period must be at least 1s", ErrPolicy)
	case p.MaxPeriod < p.Period:
		return fmt.Errorf("%w: max_period must be at least period", ErrPolicy)
	}
	return nil
}

// period is the length of the offences-th block in a row.
func (p Policy) period(offences int) time.Duration {
	d := p.Period
	for i := 1; i < offences && d < p.MaxPeriod; i++ {
		d *= 2
	}
	return min(d, p.MaxPeriod)
}

// ErrUnavailable wraps a store that cannot answer (Redis down).
var ErrUnavailable = errors.New("block: store unavailable")

// ErrValue reports a kind or value that cannot be blocked or lifted.
var ErrValue = errors.New("block: invalid value")

// MaxValue bounds a value's length: a jkt is 43 characters, an address
// key at most 43 ("ffff:...:ffff/64").
const MaxValue = 64

// ParseKind returns the Kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("%w: kind %q is not address or key", ErrValue, s)
}

// ParseAddress returns the block value of an address typed by a person
// (`ward blocks lift --address`): an IPv4 or IPv6 address, or an IPv6
// /64 prefix as List prints it. IPv6 addresses are taken by their /64,
// as they are blocked.
func ParseAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() || p.Bits() != 64 || p.Masked() != p {
			return "", fmt.Errorf("%w: %q: only an IPv6 /64 network is blocked as one (2001:db8::/64)", ErrValue, s)
		}
		return p.String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", fmt.Errorf("%w: %q is not an IP address", ErrValue, s)
	}
	return ratelimit.IPKey(a.Unmap()), nil
}

// ParseKey checks a jkt typed by a person: an RFC 7638 SHA-256
// thumbprint, 43 base64url characters.
func ParseKey(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) != 43 {
		return "", fmt.Errorf("%w: a key thumbprint (jkt) is 43 base64url characters", ErrValue)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", fmt.Errorf("%w: a key thumbprint (jkt) is 43 base64url characters", ErrValue)
		}
	}
	return s, nil
}

// checkValue refuses what no store keeps: an unknown kind, an empty or
// overlong value.
func checkValue(kind Kind, value string) error {
	if kind != Address && kind != Key {
		return fmt.Errorf("%w: kind %q", ErrValue, kind)
	}
	if value == "" || len(value) > MaxValue {
		return fmt.Errorf("%w: value of %d bytes", ErrValue, len(value))
	}
	return nil
}
