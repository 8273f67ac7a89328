package resource_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/revocation"
)

// TestRevokedTokenFromCache: a token validated (and cached) before its
// revocation is refused after it, by jti or by grant_id, with 401
// invalid_token and reason revoked; a stale list refuses with 503.
func TestRevokedTokenFromCache(t *testing.T) {
	now := testNow
	set := revocation.NewSet(revocation.SetOptions{Clock: func() time.Time { return now }})
	set.MarkSynced()
	f := newFixture(t, func(c *resource.Config, _ *[]dpop.VerifierOption) { c.Revocations = set })
	claims := f.is.claims(f.cl.signer.Thumbprint())
	claims["grant_id"] = "grant-1"
	tok := f.is.token(t, claims)
	claims["jti"], claims["grant_id"] = "tok-2", "grant-2"
	tok2 := f.is.token(t, claims)
	call := func(tok string) (int, string) {
		w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP "+tok, f.cl.proof(t, "GET", apiURL, tok))
		return w.Code, w.Header().Get("WWW-Authenticate")
	}
	for _, tk := range []string{tok, tok2} {
		if code, _ := call(tk); code != 200 {
			t.Fatalf("before revocation: %d", code)
		}
	}
	set.Add([]revocation.Entry{{JTI: "tok-1", RevokedAt: now, Expires: now.Add(time.Hour)}})
	if code, ch := call(tok); code != 401 || !strings.Contains(ch, `error="invalid_token"`) || f.rejected[len(f.rejected)-1] != resource.ReasonRevoked {
		t.Fatalf("revoked jti: %d %q %v", code, ch, f.rejected)
	}
	if code, _ := call(tok2); code != 200 {
		t.Fatalf("other token: %d", code)
	}
	set.Add([]revocation.Entry{{GrantID: "grant-2", RevokedAt: now, Expires: now.Add(time.Hour)}})
	if code, _ := call(tok2); code != 401 || f.rejected[len(f.rejected)-1] != resource.ReasonRevoked {
		t.Fatalf("revoked grant: %d %v", code, f.rejected)
	}
	now = now.Add(time.Hour) // the list's clock: stale
	if code, ch := call(tok2); code != 503 || !strings.Contains(ch, "temporarily_unavailable") || f.rejected[len(f.rejected)-1] != resource.ReasonRevocationsStale {
		t.Fatalf("stale list: %d %q %v", code, ch, f.rejected)
	}
}
