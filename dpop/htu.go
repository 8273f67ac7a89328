package dpop

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ErrBadURL is returned by NormalizeURL for a URL that cannot be an htu.
var ErrBadURL = errors.New("dpop: bad URL")

// NormalizeURL puts an absolute http(s) URL into the form used to compare
// htu with the request URL (RFC 9449 §4.3 (9), RFC 3986 §6.2.2 and §6.2.3):
// scheme and host lower-cased, the scheme's default port dropped, percent-
// encoding of unreserved characters decoded and other percent-encodings
// upper-cased, dot segments removed, an empty path made "/", and query and
// fragment dropped. URLs with userinfo are refused.
func NormalizeURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("%w: scheme %q is not http or https", ErrBadURL, u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return "", fmt.Errorf("%w: not an absolute URL with a host", ErrBadURL)
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: userinfo is not allowed", ErrBadURL)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", fmt.Errorf("%w: empty host", ErrBadURL)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return "", fmt.Errorf("%w: bad port %q", ErrBadURL, p)
		}
		if !(scheme == "http" && n == 80) && !(scheme == "https" && n == 443) {
			host += ":" + strconv.FormatUint(n, 10)
		}
	}
	path, err := normalizePercent(u.EscapedPath())
	if err != nil {
		return "", err
	}
	path = removeDotSegments(path)
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// normalizePercent decodes percent-encoded unreserved characters and
// upper-cases the hex digits of the others (RFC 3986 §6.2.2.1, §6.2.2.2).
func normalizePercent(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("%w: truncated percent-encoding", ErrBadURL)
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("%w: bad percent-encoding", ErrBadURL)
		}
		c := hi<<4 | lo
		if isUnreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexDigits[hi])
			b.WriteByte(hexDigits[lo])
		}
		i += 2
	}
	return b.String(), nil
}

// removeDotSegments implements RFC 3986 §5.2.4.
func removeDotSegments(in string) string {
	if !strings.Contains(in, ".") {
		return in
	}
	var out []string
	segs := strings.Split(in, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch seg {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	r := strings.Join(out, "/")
	if strings.HasPrefix(in, "/") && !strings.HasPrefix(r, "/") {
		r = "/" + r
	}
	return r
}

// RequestURL returns the externally visible URL of a request received by a
// server, without query: scheme and host from the connection and Host
// header, or from base when it is set, or from X-Forwarded-Proto and
// X-Forwarded-Host (or RFC 7239 Forwarded) when the peer's address is in
// trusted. Forwarding headers from any other peer are ignored.
func RequestURL(r *http.Request, base string, trusted []netip.Prefix) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	switch {
	case base != "":
		if u, err := url.Parse(base); err == nil {
			scheme, host = u.Scheme, u.Host
		}
	case len(trusted) > 0 && peerTrusted(r.RemoteAddr, trusted):
		if p, h := forwarded(r); p != "" || h != "" {
			if p == "http" || p == "https" {
				scheme = p
			}
			if h != "" {
				host = h
			}
		}
	}
	return scheme + "://" + host + r.URL.EscapedPath()
}

func peerTrusted(remoteAddr string, trusted []netip.Prefix) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// forwarded reads the client-facing scheme and host set by a trusted proxy:
// the first element of X-Forwarded-Proto/Host, else of Forwarded.
func forwarded(r *http.Request) (proto, host string) {
	first := func(v string) string {
		v, _, _ = strings.Cut(v, ",")
		return strings.TrimSpace(v)
	}
	proto = strings.ToLower(first(r.Header.Get("X-Forwarded-Proto")))
	host = first(r.Header.Get("X-Forwarded-Host"))
	if proto != "" || host != "" {
		return proto, host
	}
	fwd := first(r.Header.Get("Forwarded"))
	for _, pair := range strings.Split(fwd, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		switch strings.ToLower(k) {
		case "proto":
			proto = strings.ToLower(v)
		case "host":
			host = v
		}
	}
	return proto, host
}
