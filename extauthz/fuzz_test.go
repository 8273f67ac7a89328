package extauthz_test

import (
	"errors"
	"net/url"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/wardauth/ward/extauthz"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/mtls/mtlstest"
)

// FuzzRequest holds the attribute mapping to its invariants: it never
// panics; a mapped request's URL, which the DPoP check reads, is
// scheme://host/path as Envoy reported it and parses back to the same
// host and request target; no pseudo-header becomes a header; a
// certificate that does not parse is a refusal, never ignored.
func FuzzRequest(f *testing.F) {
	good := mtlstest.NewCA(f).Issue(f, mtlstest.Options{URIs: []string{"spiffe://prod/a"}}).Escaped()
	f.Add("GET", "https", "api.example", "/orders/42?x=1", "dpop", "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.sig", false, "")
	f.Add("POST", "https", "api.example:8443", "/a%2Fb/c?q=%20#f", "authorization", "DPoP x", true, good)
	f.Add("GET", "http", "[::1]:9000", "//double/slash", ":authority", "api.example", true, "")
	f.Add("GET", "https", "api.example", "/x", "x-a", "v", false, "%zz")
	f.Add("PUT", "https", "xn--bcher-kva.example", "/%7Euser/%E2%82%AC", "Host", "evil.example", false, good[:40])
	f.Fuzz(func(t *testing.T, method, scheme, host, path, hk, hv string, raw bool, cert string) {
		a := attrs(method, scheme, host, path, map[string]string{hk: hv})
		if raw {
			a.Request.Http.Headers = nil
			a.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: hk, RawValue: []byte(hv)}}}
		}
		a.Source.Certificate = cert
		r, err := extauthz.Request(a, 0)
		if err != nil {
			if !errors.Is(err, extauthz.ErrAttributes) {
				t.Fatalf("error %v does not wrap ErrAttributes", err)
			}
			return
		}
		if r.Method != method || r.Host != host || (r.TLS != nil) != (scheme == "https") {
			t.Fatalf("request line %q %q tls=%v from %q %q %q", r.Method, r.Host, r.TLS != nil, method, scheme, host)
		}
		rebuilt := r.URL.String()
		if rebuilt != scheme+"://"+host+path || r.URL.RequestURI() != path {
			t.Fatalf("URL %q, Envoy reported %q", rebuilt, scheme+"://"+host+path)
		}
		u, err := url.Parse(rebuilt)
		if err != nil || u.Host != host || u.RequestURI() != path || u.Scheme != scheme {
			t.Fatalf("%q does not round-trip: %v %+v", rebuilt, err, u)
		}
		for k := range r.Header {
			if k == "" || k[0] == ':' || k == "Host" {
				t.Fatalf("header %q", k)
			}
		}
		if cert != "" {
			if _, err := mtls.ParseForwardedCert(cert); err != nil {
				t.Fatalf("malformed certificate %q accepted", cert)
			}
			if len(r.TLS.PeerCertificates) != 1 {
				t.Fatal("certificate dropped")
			}
		}
	})
}
