package dpop

import (
	"context"
	"crypto"
	"crypto/tls"
	"io"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestNormalizeURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://api.example.com/v1/things", "https://api.example.com/v1/things"},
		{"HTTPS://API.Example.COM:443/v1/things?x=1#f", "https://api.example.com/v1/things"},
		{"http://example.com:80", "http://example.com/"},
		{"http://example.com:8080/", "http://example.com:8080/"},
		{"https://example.com:80/", "https://example.com:80/"},
		{"https://example.com/%7euser/%2f/%e2%82%ac", "https://example.com/~user/%2F/%E2%82%AC"},
		{"https://example.com/a/./b/../c", "https://example.com/a/c"},
		{"https://example.com/a/%2e%2e/b", "https://example.com/b"},
		{"http://[::1]:80/x", "http://[::1]/x"},
		{"https://example.com/?", "https://example.com/"},
	} {
		got, err := NormalizeURL(c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"/relative", "ftp://example.com/", "https://user:pw@example.com/", "https:opaque", "https://example.com:99999/", "https://example.com/%zz", "https://"} {
		if got, err := NormalizeURL(bad); err == nil {
			t.Errorf("NormalizeURL(%q) = %q, want an error", bad, got)
		}
	}
}

func TestRequestURL(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct {
		name, remote, base string
		tls                bool
		headers            map[string]string
		want               string
	}{
		{"plain", "192.0.2.1:1234", "", false, nil, "http://api.example.com/v1/x"},
		{"tls", "192.0.2.1:1234", "", true, nil, "https://api.example.com/v1/x"},
		{"forwarded headers from an untrusted peer are ignored", "192.0.2.1:1234", "", false,
			map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}, "http://api.example.com/v1/x"},
		{"X-Forwarded-* from a trusted proxy", "10.1.2.3:1234", "", false,
			map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example, inner"}, "https://public.example/v1/x"},
		{"Forwarded from a trusted proxy", "10.1.2.3:1234", "", false,
			map[string]string{"Forwarded": `for=1.2.3.4;proto=https;host="public.example"`}, "https://public.example/v1/x"},
		{"a bogus proto is ignored", "10.1.2.3:1234", "", false,
			map[string]string{"X-Forwarded-Proto": "javascript"}, "http://api.example.com/v1/x"},
		{"a fixed base URL wins over everything", "10.1.2.3:1234", "https://fixed.example", false,
			map[string]string{"X-Forwarded-Host": "public.example"}, "https://fixed.example/v1/x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://api.example.com/v1/x?q=1", nil)
			r.RemoteAddr = c.remote
			if c.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range c.headers {
				r.Header.Set(k, v)
			}
			if got := RequestURL(r, c.base, trusted); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestVerifyHTTPBehindProxy: a proof made for the public URL verifies when
// the request comes through a trusted proxy, and not when the same headers
// come from anywhere else.
func TestVerifyHTTPBehindProxy(t *testing.T) {
	key, _ := GenerateKey(ES256)
	s, _ := NewSigner(key)
	v, _ := NewVerifier(WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))
	for _, c := range []struct {
		remote string
		ok     bool
	}{{"10.9.9.9:5000", true}, {"203.0.113.7:5000", false}} {
		proof, _ := s.Proof("GET", "https://public.example/v1/x")
		r := httptest.NewRequest("GET", "http://10.0.0.5:8080/v1/x", nil)
		r.RemoteAddr = c.remote
		r.Header.Set("X-Forwarded-Proto", "https")
		r.Header.Set("X-Forwarded-Host", "public.example")
		r.Header.Set("DPoP", proof)
		_, err := v.VerifyHTTP(context.Background(), r, "", "")
		if (err == nil) != c.ok {
			t.Errorf("peer %s: err %v, want ok=%v", c.remote, err, c.ok)
		}
	}
}

// opaqueSigner hides the concrete key type, as a KMS or hardware token
// would: only crypto.Signer's two methods are available.
type opaqueSigner struct{ k crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.k.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.k.Sign(r, d, opts)
}

func TestSignerWithOpaqueKey(t *testing.T) {
	for _, alg := range []string{ES256, EdDSA, PS256} {
		key, _ := GenerateKey(alg)
		s, err := NewSigner(opaqueSigner{key})
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		p, err := s.Proof("GET", testURL)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := NewVerifier()
		if _, err := v.Verify(context.Background(), Request{Proofs: []string{p}, Method: "GET", URL: testURL, JKT: s.Thumbprint()}); err != nil {
			t.Errorf("%s via opaque signer: %v", alg, err)
		}
	}
}
