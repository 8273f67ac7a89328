package block

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestPolicyValidate(t *testing.T) {
	for _, p := range []Policy{{}, {Threshold: 1, Window: time.Millisecond, Period: time.Second, MaxPeriod: time.Second},
		{Threshold: 1, Window: time.Second, Period: time.Minute, MaxPeriod: time.Second}} {
		if err := p.Validate(); !errors.Is(err, ErrPolicy) {
			t.Errorf("%+v: %v, want ErrPolicy", p, err)
		}
	}
	if err := testPolicy.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryBounded(t *testing.T) {
	s := NewMemoryStore(1024)
	for i := range 100_000 {
		if _, _, err := s.Strike(t.Context(), Address, fmt.Sprint(i), t0, testPolicy); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Len(); n > 1024 {
		t.Fatalf("%d values held, want at most 1024", n)
	}
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1": "192.0.2.1", " 192.0.2.1 ": "192.0.2.1", "::ffff:192.0.2.1": "192.0.2.1",
		"2001:db8::1": "2001:db8::/64", "2001:db8:0:0:ffff::9": "2001:db8::/64", "2001:db8::/64": "2001:db8::/64",
	} {
		if got, err := ParseAddress(in); err != nil || got != want {
			t.Errorf("ParseAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "192.0.2.0/24", "2001:db8::1/64", "2001:db8::/48", "fe80::1%eth0", "192.0.2.1:80"} {
		if got, err := ParseAddress(in); !errors.Is(err, ErrValue) {
			t.Errorf("ParseAddress(%q) = %q, %v; want ErrValue", in, got, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	if got, err := ParseKey(jkt); err != nil || got != jkt {
		t.Fatalf("%q %v", got, err)
	}
	for _, in := range []string{"", jkt[:42], jkt + "A", jkt[:42] + "=", jkt[:42] + "\n"} {
		if _, err := ParseKey(in); !errors.Is(err, ErrValue) {
			t.Errorf("ParseKey(%q): %v, want ErrValue", in, err)
		}
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "2001:db8::/64", "::ffff:1.2.3.4", "fe80::1%eth0", "1.2.3.4/32", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseAddress(s)
		if err != nil {
			return
		}
		// What it accepts is a value a block can hold, and a fixed point.
		if checkValue(Address, v) != nil {
			t.Fatalf("%q -> %q: not a value", s, v)
		}
		if again, err := ParseAddress(v); err != nil || again != v {
			t.Fatalf("%q -> %q -> %q, %v", s, v, again, err)
		}
		if _, err := netip.ParseAddr(v); err != nil {
			if p, err := netip.ParsePrefix(v); err != nil || p.Bits() != 64 {
				t.Fatalf("%q -> %q: neither an address nor a /64", s, v)
			}
		}
	})
}

func FuzzParseKey(f *testing.F) {
	f.Add("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseKey(s)
		if err == nil && (len(v) != 43 || checkValue(Key, v) != nil) {
			t.Fatalf("%q accepted as %q", s, v)
		}
	})
}

// TestRedisSharedByInstances: two stores on one Redis and prefix (two
// instances) see each other's strikes and blocks.
func TestRedisSharedByInstances(t *testing.T) {
	a := newRedisStore(t)
	b := NewRedisStore(a.c, RedisConfig{Prefix: a.prefix})
	strikes(t, a, Address, "198.51.100.7", t0, 2)
	if _, started := strikes(t, b, Address, "198.51.100.7", t0, 1); !started {
		t.Fatal("the second instance's strike did not add to the first's")
	}
	if !blockedAt(t, a, Address, "198.51.100.7", t0.Add(time.Second)) {
		t.Fatal("the first instance does not see the block")
	}
	if lifted, err := a.Lift(t.Context(), Address, "198.51.100.7", t0); err != nil || !lifted {
		t.Fatal(lifted, err)
	}
	if blockedAt(t, b, Address, "198.51.100.7", t0.Add(time.Second)) {
		t.Fatal("the second instance still sees a lifted block")
	}
}

// TestRedisKeyExpires: a value's key lives while its window or its
// offence memory does, no longer.
func TestRedisKeyExpires(t *testing.T) {
	s := newRedisStore(t)
	c := s.c.(*redis.Client)
	strikes(t, s, Address, "192.0.2.1", time.Now(), 1)
	if ttl := c.PTTL(t.Context(), s.key(Address, "192.0.2.1")).Val(); ttl <= 0 || ttl > testPolicy.Window {
		t.Fatalf("one strike: PTTL %v, want (0, window]", ttl)
	}
	strikes(t, s, Address, "192.0.2.1", time.Now(), 2)
	if ttl := c.PTTL(t.Context(), s.key(Address, "192.0.2.1")).Val(); ttl <= testPolicy.Period || ttl > testPolicy.Period+testPolicy.MaxPeriod {
		t.Fatalf("blocked: PTTL %v, want (period, period+max_period]", ttl)
	}
}

func TestRedisUnavailable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	s := NewRedisStore(c, RedisConfig{})
	if _, err := s.Check(t.Context(), Address, "192.0.2.1", t0); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Check: %v", err)
	}
	if _, _, err := s.Strike(t.Context(), Address, "192.0.2.1", t0, testPolicy); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Strike: %v", err)
	}
	if _, err := s.List(t.Context(), t0); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("List: %v", err)
	}
}
