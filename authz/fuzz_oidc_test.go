package authz

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// FuzzClaimsRequest: the claims parameter parser (OIDC Core §5.5) never
// panics; what it accepts is a JSON object within the bounds, its
// canonical form parses again to the same canonical form, and a parsed
// request never exceeds the per-part claim count.
func FuzzClaimsRequest(f *testing.F) {
	for _, s := range []string{
		`{"id_token":{"email":{"essential":true},"name":null},"userinfo":{"picture":null}}`,
		`{"id_token":{"acr":{"essential":true,"values":["urn:ward:acr:pwd","x"]}}}`,
		`{"id_token":{"sub":{"value":"u-alice"}}}`,
		`{"other":[1,2,{"x":[]}]}`, `{}`, `[]`, `null`, `{"id_token":1}`,
		`{"id_token":{"a":null,"a":null}}`, `{"ID_TOKEN":{}}`, `{"id_token":{"":null}}`,
		`{"userinfo":{"x":{"value":"\ud800"}}}`, strings.Repeat("[", 20),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cr, canon, e := parseClaimsRequest(s)
		if e != nil || s == "" {
			return
		}
		if len(s) > maxClaimsBytes || jsonDepth([]byte(s)) > maxClaimsDepth || !json.Valid([]byte(canon)) {
			t.Fatalf("accepted %q beyond the bounds or with invalid canonical form %q", s, canon)
		}
		if len(cr.IDToken) > maxClaimsPerPart || len(cr.UserInfo) > maxClaimsPerPart {
			t.Fatalf("%q: too many claims accepted", s)
		}
		_, again, e := parseClaimsRequest(canon)
		if e != nil || again != canon {
			t.Fatalf("canonical form %q of %q: reparsed %q, %v", canon, s, again, e)
		}
	})
}

// FuzzMaxAge: max_age is accepted only as digits, and then as their value.
func FuzzMaxAge(f *testing.F) {
	for _, s := range []string{"0", "300", "007", "-1", "+1", " 1", "1e3", "99999999999", "0x10", "3600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, e := parseMaxAge(s)
		if e != nil || s == "" {
			return
		}
		want, err := strconv.ParseUint(s, 10, 63)
		if err != nil || strings.TrimLeft(s, "0123456789") != "" || *n != int64(want) {
			t.Fatalf("max_age %q accepted as %d", s, *n)
		}
	})
}

// FuzzPrompt: an accepted prompt is a set of the four values, without
// repeats, with none alone.
func FuzzPrompt(f *testing.F) {
	for _, s := range []string{"none", "login consent", "consent login login", "none login", "select_account", "NONE", "login\tconsent", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, e := parsePrompt(s)
		if e != nil {
			return
		}
		vals := strings.Fields(p)
		seen := map[string]bool{}
		for _, v := range vals {
			switch v {
			case "none", "login", "consent", "select_account":
			default:
				t.Fatalf("%q: accepted value %q", s, v)
			}
			if seen[v] {
				t.Fatalf("%q: %q repeated in %q", s, v, p)
			}
			seen[v] = true
		}
		if seen["none"] && len(vals) > 1 {
			t.Fatalf("%q: none combined: %q", s, p)
		}
	})
}
