package resource_test

import (
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
