package resource_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wardauth/ward/resource"
)

// TestAmbiguousTokenJSON: JSON member names are case-sensitive and unique
// (RFC 8259 §4, RFC 7515 §4, RFC 7519 §4). encoding/json matched "TYP"
// to typ and kept the last of two members, so a token another verifier
// reads with another audience or binding was accepted here. Each edit
// leaves the signature valid: only the JSON reading refuses it.
func TestAmbiguousTokenJSON(t *testing.T) {
	f := newFixture(t, nil)
	jkt := f.cl.signer.Thumbprint()
	hb, _ := json.Marshal(f.is.header())
	cb, _ := json.Marshal(f.is.claims(jkt))
	hdr, claims := string(hb), string(cb)
	cnf := `"cnf":{"jkt":"` + jkt + `"}`
	for _, c := range []struct {
		name, hdr, claims, reason string
	}{
		{"uppercase_TYP_without_typ", strings.Replace(hdr, `"typ"`, `"TYP"`, 1), claims, resource.ReasonMalformedToken},
		{"TYP_and_typ", strings.Replace(hdr, `{`, `{"TYP":"jwt",`, 1), claims, resource.ReasonMalformedToken},
		{"duplicate_typ", strings.Replace(hdr, `{`, `{"typ":"jwt",`, 1), claims, resource.ReasonMalformedToken},
		{"duplicate_alg", strings.Replace(hdr, `{`, `{"alg":"HS256",`, 1), claims, resource.ReasonMalformedToken},
		{"duplicate_kid", strings.Replace(hdr, `{`, `{"kid":"k0",`, 1), claims, resource.ReasonMalformedToken},
		{"uppercase_JKU_without_jku", strings.Replace(hdr, `{`, `{"JKU":"https://evil.example/jwks",`, 1), claims, resource.ReasonMalformedToken},
		{"duplicate_aud", hdr, strings.Replace(claims, `{`, `{"aud":"https://other.example",`, 1), resource.ReasonBadClaim},
		{"uppercase_AUD_and_aud", hdr, strings.Replace(claims, `{`, `{"AUD":"https://other.example",`, 1), resource.ReasonBadClaim},
		{"duplicate_sub", hdr, strings.Replace(claims, `{`, `{"sub":"mallory",`, 1), resource.ReasonBadClaim},
		{"duplicate_exp", hdr, strings.Replace(claims, `{`, `{"exp":1,`, 1), resource.ReasonBadClaim},
		{"duplicate_cnf", hdr, strings.Replace(claims, `{`, `{"cnf":{"jkt":"other"},`, 1), resource.ReasonBadClaim},
		{"duplicate_jkt_in_cnf", hdr, strings.Replace(claims, cnf, `"cnf":{"jkt":"other","jkt":"`+jkt+`"}`, 1), resource.ReasonBadClaim},
		{"uppercase_CNF_without_cnf", hdr, strings.Replace(claims, `"cnf"`, `"CNF"`, 1), resource.ReasonBadClaim},
		{"uppercase_JKT_without_jkt", hdr, strings.Replace(claims, `"jkt"`, `"JKT"`, 1), resource.ReasonBadClaim},
		{"trailing_data_after_claims", hdr, claims + `{}`, resource.ReasonBadClaim},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The untouched token is accepted: the refusal is the edit's.
			good := craftRaw(t, []byte(hdr), []byte(claims), "ES256", f.is.key)
			if w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP "+good, f.cl.proof(t, "GET", apiURL, good)); w.Code != http.StatusOK {
				t.Fatalf("control token: status %d", w.Code)
			}
			tok := craftRaw(t, []byte(c.hdr), []byte(c.claims), "ES256", f.is.key)
			f.rejected = nil
			w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP "+tok, f.cl.proof(t, "GET", apiURL, tok))
			if w.Code != http.StatusUnauthorized || len(f.rejected) != 1 || f.rejected[0] != c.reason {
				t.Fatalf("status %d, reasons %v; want 401 %s", w.Code, f.rejected, c.reason)
			}
		})
	}
}

// TestAmbiguousJWKS: the issuer's JWKS is JOSE too (RFC 7517 §4, §5): a
// document with a case-variant or repeated member is refused whole, so
// no key is taken from a set that two readers read differently.
func TestAmbiguousJWKS(t *testing.T) {
	other, _ := newKey()
	otherX := jwkMap(t, &other.PublicKey)["x"].(string)
	for _, c := range []struct {
		name string
		edit func(string) string
	}{
		{"uppercase_KEYS_without_keys", func(s string) string { return strings.Replace(s, `"keys"`, `"KEYS"`, 1) }},
		{"duplicate_keys", func(s string) string { return strings.Replace(s, `{"keys"`, `{"keys":[],"keys"`, 1) }},
		{"duplicate_kid_in_key", func(s string) string { return strings.Replace(s, `[{`, `[{"kid":"k0",`, 1) }},
		{"nested_duplicate_x_in_key", func(s string) string { return strings.Replace(s, `[{`, `[{"x":"`+otherX+`",`, 1) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.is.editJWKS = c.edit
			tok := f.is.token(t, f.is.claims(f.cl.signer.Thumbprint()))
			w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP "+tok, f.cl.proof(t, "GET", apiURL, tok))
			if w.Code == http.StatusOK || len(f.rejected) != 1 || f.rejected[0] != resource.ReasonKeysUnavailable {
				t.Fatalf("status %d, reasons %v; want %s", w.Code, f.rejected, resource.ReasonKeysUnavailable)
			}
		})
	}
}
