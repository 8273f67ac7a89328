package client

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseChallenges(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want []Challenge
	}{
		{"rfc9449 §9 nonce", // RFC 9449 §9, Figure 20
			[]string{`DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`},
			[]Challenge{{"DPoP", map[string]string{"error": "use_dpop_nonce", "error_description": "Resource server requires nonce in DPoP proof"}}}},
		{"rfc9449 §7.1 algs", // RFC 9449 §7.1, Figure 14
			[]string{`DPoP algs="ES256 PS256"`},
			[]Challenge{{"DPoP", map[string]string{"algs": "ES256 PS256"}}}},
		{"two in one value",
			[]string{`Bearer realm="api", error="invalid_token", DPoP algs="ES256", error=use_dpop_nonce`},
			[]Challenge{{"Bearer", map[string]string{"realm": "api", "error": "invalid_token"}}, {"DPoP", map[string]string{"algs": "ES256", "error": "use_dpop_nonce"}}}},
		{"two values", []string{`Bearer`, `DPoP algs="ES256"`},
			[]Challenge{{"Bearer", map[string]string{}}, {"DPoP", map[string]string{"algs": "ES256"}}}},
		{"escapes and case", []string{`dpop ERROR = "a\"b\\c"`},
			[]Challenge{{"dpop", map[string]string{"error": `a"b\c`}}}},
		{"token68", []string{`Basic dXNlcjpwYXNz==, DPoP`},
			[]Challenge{{"Basic", map[string]string{"": "dXNlcjpwYXNz=="}}, {"DPoP", map[string]string{}}}},
		{"unterminated quote", []string{`DPoP error="use_dpop_nonce`},
			[]Challenge{{"DPoP", map[string]string{}}}},
		{"garbage", []string{`, ,"x", =`}, nil},
		{"empty", []string{""}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseChallenges(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseChallenges(%q)\n got %#v\nwant %#v", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzParseChallenges: the parser never panics or loops, every scheme it
// returns is a token, and a DPoP use_dpop_nonce challenge it was given
// first is found.
func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`DPoP error="use_dpop_nonce", error_description="x"`,
		`Bearer realm="a", DPoP algs="ES256 EdDSA"`,
		`Basic YQ==`, `DPoP error=`, `"`, `a="\`, `,,,`, `x y=z, w`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range ParseChallenges([]string{s}) {
			if c.Scheme == "" {
				t.Fatalf("empty scheme from %q", s)
			}
			for i := 0; i < len(c.Scheme); i++ {
				if !isTokenChar(c.Scheme[i]) {
					t.Fatalf("scheme %q is not a token", c.Scheme)
				}
			}
		}
		if !strings.ContainsAny(s, `"\`) {
			cs := ParseChallenges([]string{`DPoP error="use_dpop_nonce", ` + s})
			if len(cs) == 0 || cs[0].Scheme != "DPoP" || cs[0].Params["error"] != "use_dpop_nonce" {
				t.Fatalf("lost the nonce challenge before %q: %#v", s, cs)
			}
		}
	})
}
