package authz

import (
	"bytes"
	"testing"
)

// TestReauthInTheSameSecond: max_age=0 and prompt=login ask for a new
// login even when the last one happened in the same second as the
// request (OIDC Core §3.1.2.1: the End-User MUST be re-authenticated).
// The flow once took any login not older than its creation second as
// made during the flow, so a relying party asking for a fresh login right
// after one got the old session.
func TestReauthInTheSameSecond(t *testing.T) {
	for _, tc := range []struct{ name, key, value string }{{"max_age=0", "max_age", "0"}, {"prompt=login", "prompt", "login"}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			b := h.newBrowser()
			h.oidcTokens(b, oidcExtra("")) // logs in; the clock does not move
			v := authParams("web", webRedirect, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
			v.Set("scope", "openid read")
			v.Set(tc.key, tc.value)
			if lr := b.get(h.issuer + PathAuthorize + "?" + v.Encode()); !bytes.Contains(lr.body, []byte(`name="password"`)) {
				t.Fatalf("%s right after a login: no login page (%d)", tc.name, lr.status)
			}
		})
	}
}
