package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestUserClaimsCommands: `ward user set/unset/show` edit a user's
// OpenID Connect claims with the configuration's checks, and show them.
func TestUserClaimsCommands(t *testing.T) {
	dev := []string{"--dev", "--data", t.TempDir()}
	if out, code := ward(t, append([]string{"user", "create", "--username", "alice"}, dev...)...); code != 0 {
		t.Fatalf("create: %d %s", code, out)
	}
	out, code := ward(t, append([]string{"user", "set", "alice", "--claim", "name=Liddell, Alice", "--claim", "email=alice@example.com",
		"--claim", "email_verified=true", "--claim", "address.locality=Oxford"}, dev...)...)
	if code != 0 {
		t.Fatalf("set: %d %s", code, out)
	}
	out, code = ward(t, append([]string{"user", "show", "alice"}, dev...)...)
	for _, w := range []string{`"name": "Liddell, Alice"`, `"email_verified": true`, `"locality": "Oxford"`} {
		if code != 0 || !strings.Contains(out, w) {
			t.Fatalf("show lacks %s: %d %s", w, code, out)
		}
	}
	if strings.Contains(out, "argon2") {
		t.Fatal("show prints the password hash")
	}
	for _, bad := range []string{"email=alice", "picture=http://img.example/a.png", "phone_number=0123", "shoe_size=44", "locale=English!", "name"} {
		out, code = ward(t, append([]string{"user", "set", "alice", "--claim", bad}, dev...)...)
		if code != 1 {
			t.Errorf("set %s: %d %s", bad, code, out)
		}
	}
	if out, code = ward(t, append([]string{"user", "unset", "--username", "alice", "--claim", "email", "--claim", "address.locality"}, dev...)...); code != 0 {
		t.Fatalf("unset: %d %s", code, out)
	}
	out, _ = ward(t, append([]string{"user", "show", "alice"}, dev...)...)
	if strings.Contains(out, "alice@example.com") || strings.Contains(out, "address") || !strings.Contains(out, "Liddell") {
		t.Fatalf("after unset: %s", out)
	}
}

// TestClientCreatePairwise: `ward client create --subject-type pairwise`
// checks the sector identifier document before storing the client, and
// refuses a document that does not list its redirect URIs, naming the
// client and the key.
func TestClientCreatePairwise(t *testing.T) {
	dev := []string{"--dev", "--data", t.TempDir()}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`["https://a.example/cb"]`))
	}))
	defer srv.Close()
	// The sector document is on a test server with its own CA: the fetch
	// fails closed (unknown authority), as any failure does.
	out, code := ward(t, append([]string{"client", "create", "--id", "pw", "--auth-method", "none", "--redirect-uri", "https://a.example/cb",
		"--redirect-uri", "https://b.example/cb", "--subject-type", "pairwise", "--sector-identifier-uri", srv.URL + "/sector.json"}, dev...)...)
	if code != 1 || !strings.Contains(out, `client "pw"`) || !strings.Contains(out, "sector_identifier_uri") {
		t.Fatalf("unreachable sector document: %d %s", code, out)
	}
	out, code = ward(t, append([]string{"client", "create", "--id", "pw1", "--auth-method", "none", "--redirect-uri", "https://a.example/cb",
		"--subject-type", "pairwise"}, dev...)...)
	if code != 0 {
		t.Fatalf("pairwise on one host: %d %s", code, out)
	}
}
