package resource

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzClaimMapping feeds arbitrary JWT payloads through the pieces that
// read a foreign issuer's claims: peekIssuer, parseClaims, the claim
// mapping of both profiles and the ID-token check. None may panic; a
// mapped scope is always a scope token (RFC 6749 §3.3); a payload with
// an ID token's marks is never passed.
func FuzzClaimMapping(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://kc/realms/r","sub":"u","typ":"Bearer","azp":"app","scope":"openid a"}`,
		`{"iss":"https://okta","cid":"0oa","uid":"00u","scp":["openid","a"],"auth_time":1}`,
		`{"iss":"https://login.microsoftonline.com/t/v2.0","azp":"x","scp":"a b","oid":"o","ver":"2.0"}`,
		`{"iss":"x","nonce":"n","aud":"c"}`,
		`{"iss":"x","scope":["a b"]}`,
		`{"iss":1,"sub":{},"scope":null}`,
		`{"iss":"x","typ":"ID","token_use":"id"}`,
	} {
		f.Add([]byte(s))
	}
	mappings := []ClaimMapping{
		ClaimMapping{}.withDefaults(ProfileRFC9068),
		ClaimMapping{}.withDefaults(ProfileLegacyJWT),
		ClaimMapping{Subject: "oid", Client: []string{"appid", "azp"}, Scopes: []string{"scp", "roles"}}.withDefaults(ProfileLegacyJWT),
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		tok := "e30." + base64.RawURLEncoding.EncodeToString(payload) + ".sig"
		iss, te := peekIssuer(tok)
		if te == nil && iss == "" {
			t.Fatal("peekIssuer: ok with an empty iss")
		}
		c, raw, err := parseClaims(payload)
		if err != nil {
			return
		}
		// What the verified claims accept, the peek read alike: the issuer
		// chosen before verification is the one the claims name.
		if c.Issuer != "" && (te != nil || iss != c.Issuer) {
			t.Fatalf("peekIssuer %q (%v), claims name %q", iss, te, c.Issuer)
		}
		_ = c
		for _, m := range mappings {
			_, _, scopes, err := m.apply(raw)
			if err != nil {
				continue
			}
			for _, s := range scopes {
				if s == "" || strings.ContainsAny(s, " \t\n\r") {
					t.Fatalf("mapped scope %q is not a scope token", s)
				}
			}
			for _, p := range []Profile{ProfileRFC9068, ProfileLegacyJWT} {
				why := idToken(raw, p, m.Scopes)
				for _, k := range idTokenMarks {
					if _, has := raw[k]; has && why == "" {
						t.Fatalf("payload with %s passed as an access token", k)
					}
				}
			}
		}
		_ = json.Valid(payload)
	})
}
