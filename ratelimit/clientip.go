package ratelimit

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxHops bounds the X-Forwarded-For entries examined.
const maxHops = 32

// ClientIP returns the address of the client that sent r. The peer
// address (r.RemoteAddr) is the answer unless the peer is in trusted;
// only then is X-Forwarded-For read, from the right (the entry the
// nearest proxy appended), skipping trusted proxies: the rightmost entry
// not in trusted is the client. Entries to its left were written by the
// client itself and are never believed. When every entry is trusted the
// leftmost is the answer; an unreadable entry stops the walk at the last
// good one. The zero Addr means RemoteAddr itself is unreadable.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	return clientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), trusted)
}

func clientIP(remote string, xff []string, trusted []netip.Prefix) netip.Addr {
	peer := parseHop(remote)
	if !peer.IsValid() || !inAny(peer, trusted) {
		return peer
	}
	best := peer
	hops := 0
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			var hop string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				hop, line = line[j+1:], line[:j]
			} else {
				hop, line = line, ""
			}
			if hops++; hops > maxHops {
				return best
			}
			a := parseHop(strings.TrimSpace(hop))
			if !a.IsValid() {
				return best
			}
			if !inAny(a, trusted) {
				return a
			}
			best = a
		}
	}
	return best
}

// parseHop reads an address with or without port, IPv6 in brackets or
// not, and unmaps IPv4-mapped IPv6. Zones are refused.
func parseHop(s string) netip.Addr {
	if len(s) > 64 {
		return netip.Addr{}
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

func inAny(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// IPKey is the rate-limit key of a client address: the address for IPv4,
// its /64 for IPv6 (one host usually has a whole /64), "unknown" for the
// zero Addr.
func IPKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is4():
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
