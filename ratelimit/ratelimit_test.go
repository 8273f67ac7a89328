package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestMemoryBoundedMillionKeys: a million distinct keys (an attacker
// spraying addresses) never hold more than maxKeys, both when keys expire
// as the clock moves and when they are all live.
func TestMemoryBoundedMillionKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("a million keys")
	}
	const maxKeys = 10000
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := NewMemoryStore(maxKeys)
	c := newClock()
	l, _ := New(s, Limit{Rate: 1, Period: time.Second}, WithClock(c.Now))
	ctx := context.Background()
	peak := 0
	buf := make([]byte, 0, 16)
	for i := range 1_000_000 {
		if i%1000 == 0 {
			c.Add(10 * time.Millisecond) // 10 s in all: most keys expire
		}
		buf = strconv.AppendInt(buf[:0], int64(i), 10)
		if r, _ := l.Allow(ctx, string(buf)); !r.Allowed {
			t.Fatalf("fresh key %d refused", i)
		}
		if i%10000 == 0 {
			peak = max(peak, s.Len())
		}
	}
	peak = max(peak, s.Len())
	if peak > maxKeys {
		t.Fatalf("held %d keys, bound %d", peak, maxKeys)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("peak %d keys, heap grown by %d KiB", peak, grown>>10)
	if grown > 8<<20 {
		t.Fatalf("heap grew by %d bytes for %d keys", grown, maxKeys)
	}
	runtime.KeepAlive(s)
}

// TestMemoryEvictsLiveKeysAtCapacity: all keys live (no clock movement);
// the store stays at its bound by evicting.
func TestMemoryEvictsLiveKeysAtCapacity(t *testing.T) {
	s := NewMemoryStore(640)
	now := time.Unix(1_700_000_000, 0)
	for i := range 100_000 {
		_, _ = s.Take(context.Background(), fmt.Sprint(i), now, Limit{Rate: 1, Period: time.Hour}, 1)
	}
	if n := s.Len(); n > 640 {
		t.Fatalf("%d keys held, bound 640", n)
	}
}

func TestLimitValidate(t *testing.T) {
	for _, tc := range []struct {
		l  Limit
		ok bool
	}{
		{PerSecond(10), true},
		{PerMinute(1), true},
		{Limit{Rate: 0, Period: time.Second}, false},
		{Limit{Rate: 1, Period: 0}, false},
		{Limit{Rate: 1, Period: time.Second, Burst: -1}, false},
		{Limit{Rate: 2_000_000, Period: time.Second}, false},
		{Limit{Rate: 1, Period: time.Second, Burst: 1 << 21}, false},
	} {
		if err := tc.l.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.l, err)
		}
	}
	if _, err := New(NewMemoryStore(1), PerSecond(1), WithName("bad name")); err == nil {
		t.Error("a policy name with a space was accepted")
	}
}

func TestHeaders(t *testing.T) {
	c := newClock()
	l, _ := New(NewMemoryStore(0), Limit{Rate: 10, Period: time.Minute, Burst: 5}, WithClock(c.Now), WithName("ip"))
	var r Result
	for range 6 {
		r, _ = l.Allow(context.Background(), "k")
	}
	h := http.Header{}
	SetHeaders(h, l.Name(), r)
	// draft-ietf-httpapi-ratelimit-headers: q quota, w window (s), r
	// remaining, t seconds until reset.
	want := map[string]string{
		"Ratelimit-Policy": `"ip";q=5;w=30`,
		"Ratelimit":        `"ip";r=0;t=30`,
		"Retry-After":      "6",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	var hs Headers
	hs.Add("ip", r)
	hs.Add("client", Result{Allowed: true, Limit: PerSecond(2), Remaining: 1, Reset: 500 * time.Millisecond})
	h = http.Header{}
	hs.Write(h)
	if got := h.Get("RateLimit"); got != `"ip";r=0;t=30, "client";r=1;t=1` {
		t.Errorf("RateLimit %q", got)
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"no proxy", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"xff from untrusted peer ignored", "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted proxy", "10.0.0.2:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client-forged left entries ignored", "10.0.0.2:443", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"chain of trusted proxies", "10.0.0.2:443", []string{"1.2.3.4, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several header lines", "10.0.0.2:443", []string{"1.2.3.4", "198.51.100.1, 10.1.1.1"}, "198.51.100.1"},
		{"all trusted: leftmost", "10.0.0.2:443", []string{"10.3.3.3, 10.4.4.4"}, "10.3.3.3"},
		{"garbage stops at last good", "10.0.0.2:443", []string{"198.51.100.1, garbage, 10.5.5.5"}, "10.5.5.5"},
		{"no xff from trusted peer", "10.0.0.2:443", nil, "10.0.0.2"},
		{"ipv6 with port", "[fd00::1]:443", []string{"[2001:db8::1]:1234"}, "2001:db8::1"},
		{"ipv4-mapped unmapped", "[::ffff:203.0.113.9]:80", nil, "203.0.113.9"},
		{"unknown token", "10.0.0.2:443", []string{"unknown"}, "10.0.0.2"},
		{"unreadable remote", "garbage", nil, "invalid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{"X-Forwarded-For": tc.xff}}
			if got := ClientIP(r, trusted).String(); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestIPKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2::ffff":   "2001:db8:1:2::/64",
	} {
		if got := IPKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	if IPKey(netip.Addr{}) != "unknown" {
		t.Error("zero Addr")
	}
}

func TestBackoff(t *testing.T) {
	c := newClock()
	p := BackoffPolicy{Free: 3, Base: time.Second, Max: 30 * time.Second, LockAfter: 10, LockFor: 15 * time.Minute, Forget: time.Hour}
	b := NewBackoff(p, 0, c.Now)
	// Failures 1-3 free; 4: 1s, 5: 2s, 6: 4s, 7: 8s, 8: 16s, 9: 30s (cap), 10: lock.
	want := []time.Duration{0, 0, 0, 1, 2, 4, 8, 16, 30, 900}
	for i, w := range want {
		if d := b.Wait("u"); d != 0 {
			t.Fatalf("failure %d: still waiting %v", i+1, d)
		}
		if d := b.Fail("u"); d != w*time.Second {
			t.Fatalf("failure %d: wait %v, want %v", i+1, d, w*time.Second)
		}
		c.Add(w * time.Second)
	}
	// The lock expired (the loop waited it out); the count is kept, so
	// the next failure locks again: an attacker keeps paying the lock.
	if b.Wait("u") != 0 {
		t.Fatal("lock did not expire")
	}
	if d := b.Fail("u"); d != 15*time.Minute {
		t.Fatalf("after lock: %v", d)
	}
	// A success forgets everything.
	c.Add(15 * time.Minute)
	b.Reset("u")
	if b.Fail("u") != 0 {
		t.Fatal("reset did not forget")
	}
	// Failures are forgotten after a quiet hour.
	for range 5 {
		b.Fail("v")
	}
	c.Add(time.Hour + time.Second)
	if d := b.Fail("v"); d != 0 || b.Failures("v") != 1 {
		t.Fatalf("not forgotten: %v, %d failures", d, b.Failures("v"))
	}
	// A wait in progress is not shortened by an extra failure.
	w := NewBackoff(BackoffPolicy{Free: 0, Base: 10 * time.Second, Max: 10 * time.Second, Forget: time.Hour}, 0, c.Now)
	w.Fail("x")
	c.Add(time.Second)
	if d := w.Wait("x"); d != 9*time.Second {
		t.Fatalf("wait %v, want 9s", d)
	}
}

func TestBackoffBounded(t *testing.T) {
	c := newClock()
	b := NewBackoff(BackoffPolicy{Free: 1, Base: time.Second, Max: time.Minute, Forget: time.Hour}, 1600, c.Now)
	for i := range 50_000 {
		b.Fail(strconv.Itoa(i))
	}
	if n := b.Len(); n > 1600 {
		t.Fatalf("%d keys, bound 1600", n)
	}
}

// TestPeekStoresNothing: peeking (before every client authentication) at
// a flood of addresses that never failed holds no memory.
func TestPeekStoresNothing(t *testing.T) {
	s := NewMemoryStore(1000)
	l, _ := New(s, Limit{Rate: 10, Period: time.Minute})
	for i := range 10000 {
		if r, err := l.Peek(context.Background(), strconv.Itoa(i)); err != nil || !r.Allowed {
			t.Fatalf("peek %d: %+v %v", i, r, err)
		}
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("%d keys held after peeks only", n)
	}
}
