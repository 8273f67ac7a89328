package ratelimit

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientIP: ClientIP never panics, returns the peer unless the peer is
// trusted, and otherwise an address the peer or a forwarded entry named.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:443", "198.51.100.1, 10.0.0.9")
	f.Add("[fd00::1]:1", "[2001:db8::1]:80,unknown")
	f.Add("203.0.113.1:1", "1.1.1.1")
	f.Add("10.0.0.1:443", ",,, ,[,]:,"+strings.Repeat("10.1.1.1,", 40))
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := clientIP(remote, []string{xff}, trusted)
		peer := parseHop(remote)
		if !peer.IsValid() || !inAny(peer, trusted) {
			if got != peer {
				t.Fatalf("untrusted peer %v: got %v", peer, got)
			}
			return
		}
		if !got.IsValid() {
			t.Fatalf("trusted peer %v gave an invalid address", peer)
		}
		if got != peer && !containsAddr(xff, got) {
			t.Fatalf("%v is neither the peer nor in %q", got, xff)
		}
		_ = IPKey(got)
	})
}

func containsAddr(xff string, a netip.Addr) bool {
	for _, h := range strings.Split(xff, ",") {
		if parseHop(strings.TrimSpace(h)) == a {
			return true
		}
	}
	return false
}
