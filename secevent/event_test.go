package secevent

import (
	"strings"
	"testing"
)

// A JWT, an opaque refresh token and a DPoP proof put in an event's fields
// never leave Sanitize.
func TestSanitizeStripsTokens(t *testing.T) {
	const jwt = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"
	const opaque = "q8Rk3Vt1pZ0xY7wLmN4bC6dE2fG9hJ5kA1sD3fG5hJ7" // 43 chars: randomToken(32)
	const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"    // RFC 7638 §3.1
	for name, set := range map[string]func(*Event){
		"client_id JWT": func(e *Event) { e.ClientID = jwt },
		"subject JWT":   func(e *Event) { e.Subject = "x " + jwt },
		"family JWT":    func(e *Event) { e.FamilyID = jwt },
		"reason JWT":    func(e *Event) { e.Reason = "presented " + jwt + " twice" },
		"reason opaque": func(e *Event) { e.Reason = "refresh token " + opaque },
		"route opaque":  func(e *Event) { e.Route = opaque },
		"instance JWT":  func(e *Event) { e.Instance = jwt },
		"address JWT":   func(e *Event) { e.ClientAddr = jwt },
		"jkt JWT":       func(e *Event) { e.JKT = jwt },
		"jkt long":      func(e *Event) { e.JKT = opaque + opaque },
	} {
		t.Run(name, func(t *testing.T) {
			e := Event{Type: TokenLeaked, JKT: jkt, ClientID: "app", Subject: "alice"}
			set(&e)
			if n := e.Sanitize(); n != 1 {
				t.Errorf("Sanitize stripped %d fields, want 1", n)
			}
			all := strings.Join([]string{e.Instance, e.ClientID, e.Subject, e.JKT, e.FamilyID, e.ClientAddr, e.Route, e.Reason}, " ")
			if strings.Contains(all, "eyJ") || strings.Contains(all, opaque) || !strings.Contains(all, Redacted) {
				t.Errorf("a token survived Sanitize: %q", all)
			}
		})
	}
}

// Identifiers that merely look random stay: a thumbprint, a family id, a
// UUID subject, a pairwise subject, an address, a reason label.
func TestSanitizeKeepsIdentifiers(t *testing.T) {
	e := Event{Type: TokenLeaked, JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		FamilyID: "hVb2n1Kx0c9R_eT3uQw-3A", Subject: "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
		ClientID: "Zp0aXJ3aXNlLXN1YmplY3QtaGFzaC12YWx1ZS1sb25n", ClientAddr: "2001:db8::1",
		Route: "api", Reason: "dpop_token_as_bearer", Instance: "ward-0"}
	want := e
	if n := e.Sanitize(); n != 0 || e != want {
		t.Errorf("Sanitize changed %d fields: %+v", n, e)
	}
}

func FuzzSanitize(f *testing.F) {
	f.Add("eyJa.eyJb.c", "dpop_token_as_bearer")
	f.Add("alice", "eyJhbGciOiJub25lIn0.eyJ9.")
	f.Fuzz(func(t *testing.T, a, b string) {
		e := Event{Subject: a, Reason: b, JKT: a}
		e.Sanitize()
		for _, s := range []string{e.Subject, e.Reason, e.JKT} {
			if looksLikeJWT(s) {
				t.Fatalf("JWT-shaped %q survived", s)
			}
		}
		if longRun(e.Reason) >= minOpaqueToken {
			t.Fatalf("token-shaped reason %q survived", e.Reason)
		}
	})
}
