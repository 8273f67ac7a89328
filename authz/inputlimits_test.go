package authz

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestInputLimits: each oversized input gets a clear 4xx, never a 5xx.
func TestInputLimits(t *testing.T) {
	h := newHarness(t)
	manyFields := url.Values{"grant_type": {"client_credentials"}}
	for i := range maxFormFields {
		manyFields.Set("x"+strconv.Itoa(i), "1")
	}
	cc := func(k, v string) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {h.secrets["svc"]}}
		f.Set(k, v)
		return f
	}
	for _, tc := range []struct {
		name, path string
		form       url.Values
		hdr        []string
		status     int
		err        string
	}{
		{"token body over 64 KiB", PathToken, cc("pad", strings.Repeat("a", maxFormBytes)), nil, 413, "invalid_request"},
		{"par body over 64 KiB", PathPAR, cc("pad", strings.Repeat("a", maxFormBytes)), nil, 413, "invalid_request"},
		{"revoke body over 64 KiB", PathRevoke, cc("token", strings.Repeat("a", maxFormBytes)), nil, 413, "invalid_request"},
		{"too many fields", PathToken, manyFields, nil, 400, "invalid_request"},
		{"field over 16 KiB", PathToken, cc("scope", strings.Repeat("a", maxParamBytes+1)), nil, 400, "invalid_request"},
		{"client assertion over 16 KiB", PathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {"jwt"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {strings.Repeat("a", maxAssertionBytes+1)}}, nil, 400, "invalid_request"},
		{"client_id over 256 bytes", PathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {strings.Repeat("a", 300)}, "client_secret": {"x"}}, nil, 401, "invalid_client"},
		{"DPoP proof over 8 KiB", PathToken, cc("scope", "read"), []string{"DPoP", strings.Repeat("a", 9<<10)}, 400, "invalid_dpop_proof"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.post(tc.path, tc.form, tc.hdr...)
			if r.status != tc.status || r.str("error") != tc.err {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.err)
			}
		})
	}
}

func FuzzParseParamsLimits(f *testing.F) {
	f.Add("grant_type=client_credentials&scope=a+b")
	f.Add(strings.Repeat("a=1&", 200))
	f.Add("resource=x&resource=&resource=y")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := parseParams(raw)
		if err != nil {
			if e, ok := err.(interface{ Error() string }); !ok || e.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if len(v) > maxFormFields {
			t.Fatalf("%d fields accepted", len(v))
		}
		for k, vals := range v {
			for _, x := range vals {
				if len(x) > maxParamBytes || x == "" {
					t.Fatalf("%q: bad value accepted", k)
				}
			}
		}
	})
}
