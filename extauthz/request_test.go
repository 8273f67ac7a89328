package extauthz_test

import (
	"errors"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/wardauth/ward/extauthz"
	"github.com/wardauth/ward/mtls/mtlstest"
)

// attrs are the attributes of a CheckRequest shaped as Envoy's HTTP
// ext_authz filter sends them (pseudo-headers in the map, lower-case
// keys, the socket address of the downstream connection).
func attrs(method, scheme, host, path string, hdr map[string]string) *authv3.AttributeContext {
	h := map[string]string{":authority": host, ":method": method, ":path": path, ":scheme": scheme,
		"x-forwarded-proto": scheme, "x-request-id": "5c3e1b7a-3f8e-4b6e-9d2a-0c1f2e3d4a5b"}
	for k, v := range hdr {
		h[k] = v
	}
	return &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "203.0.113.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 51234}}}}},
		Destination: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "10.0.0.2", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 443}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "1", Method: method, Scheme: scheme, Host: host, Path: path, Headers: h, Protocol: "HTTP/1.1", Size: -1,
		}},
	}
}

func TestRequestMapping(t *testing.T) {
	a := attrs("GET", "https", "api.example:8443", "/orders/42?x=1&y=%2F", map[string]string{"authorization": "DPoP t", "dpop": "p", "x-ward-subject": "admin"})
	r, err := extauthz.Request(a, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "GET" || r.Host != "api.example:8443" || r.URL.Path != "/orders/42" || r.URL.RawQuery != "x=1&y=%2F" || r.TLS == nil {
		t.Errorf("request line: %s %s %s tls=%v", r.Method, r.Host, r.URL, r.TLS != nil)
	}
	if r.RemoteAddr != "203.0.113.7:51234" {
		t.Errorf("RemoteAddr %q", r.RemoteAddr)
	}
	if r.Header.Get("Authorization") != "DPoP t" || r.Header.Get("Dpop") != "p" || r.Header.Get("X-Ward-Subject") != "admin" {
		t.Errorf("headers %v", r.Header)
	}
	for k := range r.Header {
		if strings.HasPrefix(k, ":") || k == "Host" {
			t.Errorf("pseudo-header %q kept", k)
		}
	}
	if r.TLS.PeerCertificates != nil {
		t.Error("certificate out of nothing")
	}
}

func TestRequestHeaderMap(t *testing.T) {
	a := attrs("GET", "http", "api.example", "/", nil)
	a.Request.Http.Headers = nil
	a.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: ":authority", RawValue: []byte("api.example")},
		{Key: "dpop", RawValue: []byte("one")},
		{Key: "dpop", RawValue: []byte("two")},
		{Key: "authorization", Value: "DPoP t"},
	}}
	r, err := extauthz.Request(a, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Two DPoP header lines stay two (RFC 9449 §4.3 (1) refuses them).
	if got := r.Header.Values("Dpop"); len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("DPoP %q", got)
	}
	if r.Header.Get("Authorization") != "DPoP t" || r.TLS != nil {
		t.Errorf("%v tls=%v", r.Header, r.TLS != nil)
	}
}

func TestRequestCertificate(t *testing.T) {
	ca := mtlstest.NewCA(t)
	leaf := ca.Issue(t, mtlstest.Options{URIs: []string{"spiffe://prod/ns/payments/sa/order-service"}, ClientOnly: true})
	a := attrs("POST", "https", "api.example", "/api/v1/charges", nil)
	a.Source.Certificate = leaf.Escaped()
	r, err := extauthz.Request(a, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.TLS.PeerCertificates) != 1 || !r.TLS.PeerCertificates[0].Equal(leaf.Cert) || r.TLS.VerifiedChains != nil {
		t.Errorf("peer certificates %v, verified %v", r.TLS.PeerCertificates, r.TLS.VerifiedChains)
	}
}

func TestRequestMalformed(t *testing.T) {
	ok := func() *authv3.AttributeContext { return attrs("GET", "https", "api.example", "/orders/1", nil) }
	for _, tt := range []struct {
		name string
		mod  func(a *authv3.AttributeContext)
	}{
		{"no request", func(a *authv3.AttributeContext) { a.Request = nil }},
		{"no method", func(a *authv3.AttributeContext) { a.Request.Http.Method = "" }},
		{"method with a space", func(a *authv3.AttributeContext) { a.Request.Http.Method = "GET /x" }},
		{"scheme ftp", func(a *authv3.AttributeContext) { a.Request.Http.Scheme = "ftp" }},
		{"empty host", func(a *authv3.AttributeContext) { a.Request.Http.Host = "" }},
		{"host with userinfo", func(a *authv3.AttributeContext) { a.Request.Http.Host = "evil@api.example" }},
		{"host with a path", func(a *authv3.AttributeContext) { a.Request.Http.Host = "api.example/x" }},
		{"absolute-form path", func(a *authv3.AttributeContext) { a.Request.Http.Path = "https://api.example/orders/1" }},
		{"asterisk-form path", func(a *authv3.AttributeContext) { a.Request.Http.Path = "*" }},
		{"path with a fragment", func(a *authv3.AttributeContext) { a.Request.Http.Path = "/orders/1#x" }},
		{"path with a space", func(a *authv3.AttributeContext) { a.Request.Http.Path = "/orders/1 HTTP/1.1" }},
		{"header name with a colon inside", func(a *authv3.AttributeContext) { a.Request.Http.Headers["x:y"] = "1" }},
		{"header value with a newline", func(a *authv3.AttributeContext) { a.Request.Http.Headers["x-a"] = "1\r\nx-ward-subject: admin" }},
		{"headers too large", func(a *authv3.AttributeContext) { a.Request.Http.Headers["x-a"] = strings.Repeat("a", 40<<10) }},
		{"no source address", func(a *authv3.AttributeContext) { a.Source = nil }},
		{"source address a name", func(a *authv3.AttributeContext) {
			a.Source.Address.GetSocketAddress().Address = "client.example"
		}},
		{"certificate not PEM", func(a *authv3.AttributeContext) { a.Source.Certificate = "not%20a%20certificate" }},
		{"certificate bad escape", func(a *authv3.AttributeContext) { a.Source.Certificate = "%zz" }},
		{"certificate on plain http", func(a *authv3.AttributeContext) {
			a.Request.Http.Scheme = "http"
			a.Source.Certificate = mtlstest.NewCA(t).Issue(t, mtlstest.Options{}).Escaped()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := ok()
			tt.mod(a)
			if _, err := extauthz.Request(a, 0); !errors.Is(err, extauthz.ErrAttributes) {
				t.Fatalf("err = %v, want ErrAttributes", err)
			}
		})
	}
}
