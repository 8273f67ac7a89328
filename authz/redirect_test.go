package authz

import (
	"net/http"
	"testing"

	"github.com/wardauth/ward/pkce"
)

// TestMatchRedirectURI: exact comparison, loopback port exception only
// (OAuth 2.1 §2.3.1, RFC 8252 §7.3, RFC 9700 §4.1.3).
func TestMatchRedirectURI(t *testing.T) {
	reg := []string{"https://app.example/cb", "http://127.0.0.1/cb", "http://[::1]:8080/cb?x=1", "com.example.app:/oauth"}
	tests := []struct {
		uri  string
		want bool
	}{
		{"https://app.example/cb", true},
		{"https://app.example/cb/", false},             // trailing slash
		{"https://APP.example/cb", false},              // case
		{"HTTPS://app.example/cb", false},              // scheme case
		{"https://app.example/Cb", false},              // path case
		{"https://app.example/cb/extra", false},        // added path
		{"https://app.example/cb?x=1", false},          // added query
		{"https://app.example/cb#f", false},            // fragment
		{"https://evil@app.example/cb", false},         // userinfo
		{"https://app.example@evil.example/cb", false}, // userinfo trick
		{"https://app.example/%63b", false},            // encoded characters
		{"https://app.example:443/cb", false},          // explicit default port
		{"https://app.example:8443/cb", false},         // other port, not loopback
		{"https://app.example.evil.example/cb", false}, // suffix host
		{"http://app.example/cb", false},               // scheme downgrade
		{"http://127.0.0.1/cb", true},                  // loopback, no port
		{"http://127.0.0.1:49152/cb", true},            // loopback, any port
		{"http://127.0.0.1:49152/cb/", false},          // loopback, trailing slash
		{"http://127.0.0.1:49152/cb?x", false},         // loopback, added query
		{"http://127.0.0.1:49152/cb#x", false},         // loopback, fragment
		{"http://127.0.0.1:0/cb", false},               // port 0
		{"http://127.0.0.1:65536/cb", false},           // port out of range
		{"http://127.0.0.1:080/cb", false},             // leading zero
		{"http://127.0.0.1:80@evil.example/cb", false}, // userinfo after loopback
		{"http://127.0.0.1.evil.example/cb", false},    // host prefix
		{"http://localhost:49152/cb", false},           // localhost is not the IP literal
		{"https://127.0.0.1:49152/cb", false},          // other scheme
		{"http://[::1]:9/cb?x=1", true},                // IPv6 loopback, other port
		{"http://[::1]:9/cb?x=2", false},               // IPv6 loopback, other query
		{"http://[::1]/cb?x=1", true},                  // IPv6 loopback, port dropped
		{"http://127.0.0.1:8080/cb?x=1", false},        // other loopback address family
		{"com.example.app:/oauth", true},               // private-use scheme, exact
		{"com.example.app:/oauth/", false},             // private-use scheme, trailing slash
		{"com.example.app://oauth", false},             // private-use scheme, authority
		{"", false},
	}
	for _, tt := range tests {
		if got := matchRedirectURI(reg, tt.uri, true); got != tt.want {
			t.Errorf("matchRedirectURI(%q) = %v, want %v", tt.uri, got, tt.want)
		}
		// RFC 8252 §7.3 is for native (public) clients: a confidential
		// client's redirect URIs match exactly, port included.
		exact := tt.uri != "" && contains(reg, tt.uri)
		if got := matchRedirectURI(reg, tt.uri, false); got != exact {
			t.Errorf("confidential: matchRedirectURI(%q) = %v, want %v", tt.uri, got, exact)
		}
	}
}

// TestConfidentialLoopbackExactPort: a confidential client registered with
// a loopback redirect URI gets no any-port exception (RFC 8252 §7.3 is for
// native public clients): another port is an unregistered redirect URI,
// refused on an error page.
func TestConfidentialLoopbackExactPort(t *testing.T) {
	const reg = "http://127.0.0.1:9999/callback"
	h := newHarness(t)
	ctx := t.Context()
	c, err := h.st.GetClient(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	c.RedirectURIs = append(c.RedirectURIs, reg)
	if err := h.st.UpsertClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	h.s.ForgetClient("web")
	v, _ := pkce.NewVerifier()
	for _, uri := range []string{"http://127.0.0.1:8888/callback", "http://127.0.0.1/callback"} {
		r := h.newBrowser().get(h.issuer + PathAuthorize + "?" + authParams("web", uri, pkce.Challenge(v)).Encode())
		if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
			t.Errorf("%s: %d %s, want an error page", uri, r.status, r.header.Get("Location"))
		}
	}
	if q := h.authorize(h.newBrowser(), authParams("web", reg, pkce.Challenge(v))); q.Get("code") == "" {
		t.Fatalf("registered port: %v", q)
	}
}
