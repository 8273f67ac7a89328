package resource_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/resource"
)

// FuzzAuthenticate feeds arbitrary Authorization and DPoP headers (tokens
// included) through the whole check: it must never panic, never accept,
// and never echo the token in the error description.
func FuzzAuthenticate(f *testing.F) {
	fx := newFixture(f, nil)
	tok := fx.is.token(f, fx.is.claims(fx.cl.signer.Thumbprint()))
	f.Add("DPoP "+tok, fx.cl.proof(f, "GET", apiURL, tok))
	f.Add("Bearer "+tok, "")
	f.Add("DPoP eyJhbGciOiJub25lIn0.e30.", "")
	// Signed tokens whose JSON is ambiguous: a repeated or case-variant
	// member name (RFC 8259 §4, RFC 7515 §4).
	hb, _ := json.Marshal(fx.is.header())
	cb, _ := json.Marshal(fx.is.claims(fx.cl.signer.Thumbprint()))
	for _, e := range [][2]string{
		{strings.Replace(string(hb), `"typ"`, `"TYP"`, 1), string(cb)},
		{string(hb), strings.Replace(string(cb), `{`, `{"aud":"https://other.example",`, 1)},
		{string(hb), strings.Replace(string(cb), `{`, `{"cnf":{"jkt":"x"},`, 1)},
		{string(hb), strings.Replace(string(cb), `"jkt"`, `"jkt":"x","jkt"`, 1)},
	} {
		amb := craftRaw(f, []byte(e[0]), []byte(e[1]), "ES256", fx.is.key)
		f.Add("DPoP "+amb, fx.cl.proof(f, "GET", apiURL, amb))
	}
	f.Add("DPoP a.b.c", "a.b.c")
	f.Add("dpop   x==", "")
	f.Add("Basic Zm9v", "")
	f.Fuzz(func(t *testing.T, auth, proof string) {
		r := httptest.NewRequest("GET", apiURL, nil)
		r.Header["Authorization"] = []string{auth}
		if proof != "" {
			r.Header["Dpop"] = []string{proof}
		}
		id, err := fx.rs.Authenticate(r, resource.Requirement{AllowBearer: true})
		if err == nil {
			// Only the seed token with a fresh valid proof may pass, once.
			if id == nil || id.Subject != "alice" {
				t.Fatalf("accepted %q", auth)
			}
			return
		}
		e := oauth.As(err)
		if e.Reason == "" {
			t.Fatalf("no reason: %v", err)
		}
		if _, tk, ok := strings.Cut(auth, " "); ok && len(tk) > 8 && strings.Contains(e.Description, tk) {
			t.Fatalf("description echoes the token: %q", e.Description)
		}
	})
}
