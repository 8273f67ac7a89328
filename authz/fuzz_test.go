package authz

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/pkce"
)

// FuzzParseParams: the strict form parser never panics, never returns a
// repeated parameter (except resource) or an empty value.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "a=1&a=2", "resource=x&resource=y", "a=", "%zz", "a=1;b=2", "grant_type=client_credentials&scope=read+write"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := parseParams(raw)
		if err != nil {
			return
		}
		for k, vals := range v {
			if len(vals) == 0 {
				t.Fatalf("%q: empty list", k)
			}
			if k != "resource" && len(vals) != 1 {
				t.Fatalf("%q repeated", k)
			}
			for _, x := range vals {
				if x == "" {
					t.Fatalf("%q: empty value kept", k)
				}
			}
		}
	})
}

// FuzzMatchRedirectURI: for a confidential client a match is exact
// equality; for a public one a match other than exact equality is only
// ever a loopback URI differing in its port, never one with userinfo,
// fragment or another host.
func FuzzMatchRedirectURI(f *testing.F) {
	for _, s := range [][2]string{
		{"http://127.0.0.1/cb", "http://127.0.0.1:8080/cb"},
		{"http://[::1]:1/cb", "http://[::1]/cb"},
		{"https://app.example/cb", "https://app.example/cb/"},
		{"http://127.0.0.1/cb", "http://127.0.0.1:80@evil/cb"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, reg, req string) {
		// A confidential client's URIs match exactly, loopback or not.
		if matchRedirectURI([]string{reg}, req, false) != (req != "" && reg == req) {
			t.Fatalf("confidential: %q against %q is not an exact comparison", req, reg)
		}
		if !matchRedirectURI([]string{reg}, req, true) || reg == req {
			return
		}
		if strings.ContainsAny(req, "@#") {
			t.Fatalf("%q matched %q with userinfo or fragment", req, reg)
		}
		rh, _, rrest, ok1 := splitLoopback(req)
		gh, _, grest, ok2 := splitLoopback(reg)
		if !ok1 || !ok2 || rh != gh || rrest != grest {
			t.Fatalf("%q matched %q beyond the loopback port", req, reg)
		}
	})
}

// FuzzAuthorizationRequest: parsing an authorization request never panics
// and accepts only response_type=code with a valid S256 challenge.
func FuzzAuthorizationRequest(f *testing.F) {
	v, _ := pkce.NewVerifier()
	f.Add(authParams("web", webRedirect, pkce.Challenge(v)).Encode())
	f.Add("response_type=token&client_id=x")
	f.Add("response_type=code&code_challenge_method=plain&code_challenge=abc")
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := parseParams(raw)
		if err != nil {
			return
		}
		req, e := parseAuthorizationRequest(p)
		if req == nil {
			t.Fatal("nil request")
		}
		if e != nil {
			return
		}
		if p.Get("response_type") != "code" || p.Get("code_challenge_method") != "S256" || pkce.ValidateChallenge(req.CodeChallenge, "S256") != nil {
			t.Fatalf("accepted %q", raw)
		}
		if req.DPoPJKT != "" && !isThumbprint(req.DPoPJKT) {
			t.Fatalf("accepted dpop_jkt %q", req.DPoPJKT)
		}
	})
}

// FuzzClientAssertion: no input authenticates the private_key_jwt client
// without its key, and none panics.
func FuzzClientAssertion(f *testing.F) {
	h := newHarness(f)
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJqd3QifQ.")
	f.Add("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJqd3QiLCJzdWIiOiJqd3QifQ.AAAA")
	f.Add("a.b.c")
	// Signed by the client's key, but with JSON another reader reads
	// differently (RFC 8259 §4, RFC 7515 §4).
	exp := h.clk.Now().Add(time.Minute).Unix()
	for _, c := range []string{
		`{"AUD":"https://other.example","aud":"` + h.issuer + `","iss":"jwt","sub":"jwt","jti":"f1","exp":` + strconv.FormatInt(exp, 10) + `}`,
		`{"aud":"` + h.issuer + `","iss":"jwt","sub":"jwt","jti":"f2","exp":` + strconv.FormatInt(exp, 10) + `,"x":{"a":1,"a":2}}`,
		`{"aud":"https://other.example","aud":"` + h.issuer + `","iss":"jwt","sub":"jwt","jti":"f3","exp":` + strconv.FormatInt(exp, 10) + `}`,
	} {
		f.Add(rawAssertion(f, h.jwtKey, `{"alg":"ES256","kid":"k1"}`, c))
	}
	f.Fuzz(func(t *testing.T, assertion string) {
		form := url.Values{"client_assertion_type": {assertionType}, "client_assertion": {assertion}}
		if c, err := h.s.checkAssertion(context.Background(), form); err == nil {
			t.Fatalf("assertion %q authenticated %q", assertion, c.ID)
		}
	})
}

// FuzzOpenFlow: the sealed flow state cannot be forged.
func FuzzOpenFlow(f *testing.F) {
	h := newHarness(f)
	sealed, _ := h.s.sealFlow(&flow{Req: authRequest{ClientID: "web"}, Created: h.clk.Now().Unix()})
	f.Add(sealed)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if s == sealed {
			return
		}
		if _, err := h.s.openFlow(s); err == nil {
			t.Fatalf("forged flow %q opened", s)
		}
	})
}
