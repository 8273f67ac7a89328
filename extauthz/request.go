package extauthz

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"golang.org/x/net/http/httpguts"

	"github.com/wardauth/ward/mtls"
)

// ErrAttributes wraps every CheckRequest whose attributes do not describe
// an HTTP request Ward can check; the caller is answered 400.
var ErrAttributes = errors.New("extauthz: malformed attributes")

// DefaultMaxHeaderBytes bounds the request headers of one CheckRequest
// (names and values), as gateway.limits.max_header_bytes does on the
// gateway's own listener.
const DefaultMaxHeaderBytes = 32 << 10

// Request rebuilds the request the client sent Envoy from a CheckRequest's
// attributes, as the gateway's decision reads it:
//
//   - request.http.method, scheme, host and path (the request target with
//     its query, as sent) give r.Method, r.Host and r.URL, with the scheme
//     and host in r.URL so that a DPoP proof's htu is compared with
//     scheme://host/path as Envoy saw it; an https scheme gives a non-nil
//     r.TLS; size, when known, gives r.ContentLength;
//   - request.http.headers (lower-case keys, repeated headers joined with
//     commas) or header_map (with encode_raw_headers: one entry per header
//     line) give r.Header; pseudo-headers (":authority", ":path", ...) and
//     "host" are not headers;
//   - source.address gives r.RemoteAddr, for per-IP limits;
//   - source.certificate (URL-escaped PEM, with include_peer_certificate)
//     gives r.TLS.PeerCertificates, for certificate-bound tokens (RFC 8705
//     §3) and certificate-only routes. It is not verified here.
//
// Anything malformed returns an error wrapping ErrAttributes; nothing is
// guessed.
func Request(a *authv3.AttributeContext, maxHeaderBytes int) (*http.Request, error) {
	h := a.GetRequest().GetHttp()
	if h == nil {
		return nil, fmt.Errorf("%w: no request.http", ErrAttributes)
	}
	r, err := target(h.GetMethod(), h.GetScheme(), h.GetHost(), h.GetPath())
	if err != nil {
		return nil, err
	}
	if r.Header, err = headers(h, maxHeaderBytes); err != nil {
		return nil, err
	}
	if size := h.GetSize(); size > 0 {
		r.ContentLength = size // for gateway.limits.max_body_bytes
	}
	if r.RemoteAddr, err = remoteAddr(a.GetSource().GetAddress()); err != nil {
		return nil, err
	}
	if pem := a.GetSource().GetCertificate(); pem != "" {
		c, err := mtls.ParseForwardedCert(pem)
		if err != nil {
			return nil, fmt.Errorf("%w: source.certificate: %v", ErrAttributes, err)
		}
		if r.TLS == nil {
			// A client certificate comes with TLS: a plain-http
			// request that has one is not what Envoy saw.
			return nil, fmt.Errorf("%w: source.certificate on a plain-http request", ErrAttributes)
		}
		r.TLS.PeerCertificates = []*x509.Certificate{c}
	}
	return r, nil
}

// target builds the request line. The path must be an origin-form
// request target (RFC 9112 §3.2.1) that parses back to the same bytes, so
// the checks see exactly what Envoy routes.
func target(method, scheme, host, path string) (*http.Request, error) {
	if method == "" || !httpguts.ValidHeaderFieldName(method) {
		return nil, fmt.Errorf("%w: method %q", ErrAttributes, method)
	}
	r := &http.Request{Method: method, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Host: host, RequestURI: path, Body: http.NoBody}
	switch scheme {
	case "https":
		r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true}
	case "http":
	default:
		return nil, fmt.Errorf("%w: scheme %q is not http or https", ErrAttributes, scheme)
	}
	if !validHost(host) {
		return nil, fmt.Errorf("%w: host %q", ErrAttributes, host)
	}
	if !strings.HasPrefix(path, "/") || !visibleASCII(path) || strings.Contains(path, "#") {
		return nil, fmt.Errorf("%w: path %q is not an origin-form request target", ErrAttributes, path)
	}
	u, err := url.ParseRequestURI(path)
	if err != nil || u.RequestURI() != path || u.Fragment != "" {
		return nil, fmt.Errorf("%w: path %q does not parse back to itself", ErrAttributes, path)
	}
	// The URL Envoy reports is the one the client used: the DPoP proof's
	// htu must name its scheme and host (RFC 9449 §4.3 (9)), which
	// Gateway.Decide reads from r.URL.
	u.Scheme, u.Host = scheme, host
	r.URL = u
	return r, nil
}

// visibleASCII reports whether s is only the characters a request
// target may hold (RFC 3986 §2: visible US-ASCII, nothing else).
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// validHost accepts a Host header value (RFC 9110 §7.2) that is a URL's
// host and nothing more.
func validHost(host string) bool {
	if host == "" || !httpguts.ValidHostHeader(host) || strings.ContainsAny(host, "/?#@\\") {
		return false
	}
	u, err := url.Parse("http://" + host + "/")
	return err == nil && u.Host == host && u.User == nil
}

// headers reads header_map when it is set, else headers.
func headers(h *authv3.AttributeContext_HttpRequest, max int) (http.Header, error) {
	if max <= 0 {
		max = DefaultMaxHeaderBytes
	}
	out := make(http.Header, len(h.GetHeaders())+len(h.GetHeaderMap().GetHeaders()))
	size := 0
	add := func(k, v string) error {
		if strings.HasPrefix(k, ":") || strings.EqualFold(k, "host") {
			return nil // pseudo-headers and Host: the request line has them
		}
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
			return fmt.Errorf("%w: header %q", ErrAttributes, k)
		}
		if size += len(k) + len(v) + 4; size > max {
			return fmt.Errorf("%w: headers over %d bytes", ErrAttributes, max)
		}
		ck := http.CanonicalHeaderKey(k)
		out[ck] = append(out[ck], v)
		return nil
	}
	if hm := h.GetHeaderMap().GetHeaders(); len(hm) > 0 {
		for _, hv := range hm {
			if err := add(hv.GetKey(), headerValue(hv)); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	for k, v := range h.GetHeaders() {
		if err := add(k, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// headerValue is raw_value when set (encode_raw_headers), else value.
func headerValue(hv *corev3.HeaderValue) string {
	if len(hv.GetRawValue()) > 0 {
		return string(hv.GetRawValue())
	}
	return hv.GetValue()
}

// remoteAddr renders source.address as net/http's RemoteAddr: ip:port
// for a socket, "@" for a Unix socket as net/http does.
func remoteAddr(a *corev3.Address) (string, error) {
	switch {
	case a.GetSocketAddress() != nil:
		sa := a.GetSocketAddress()
		ip, err := netip.ParseAddr(sa.GetAddress())
		if err != nil || ip.Zone() != "" || sa.GetPortValue() > 65535 {
			return "", fmt.Errorf("%w: source.address %q port %d is not an IP address and port", ErrAttributes, sa.GetAddress(), sa.GetPortValue())
		}
		return net.JoinHostPort(ip.String(), strconv.FormatUint(uint64(sa.GetPortValue()), 10)), nil
	case a.GetPipe() != nil:
		return "@", nil
	}
	return "", fmt.Errorf("%w: no source.address socket address", ErrAttributes)
}
