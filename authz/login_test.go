package authz

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardauth/ward/pkce"
)

// TestLoginPage: cookies, headers, CSRF, same answer for unknown users.
func TestLoginPage(t *testing.T) {
	h := newHarness(t)
	v, _ := pkce.NewVerifier()
	start := func(b *browser) *response {
		return b.get(h.issuer + PathAuthorize + "?" + authParams("web", webRedirect, pkce.Challenge(v)).Encode())
	}
	b := h.newBrowser()
	page := start(b)
	csp := page.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "form-action 'self' https://app.example", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || bytes.Contains(page.body, []byte("<script")) || bytes.Contains(page.body, []byte("style=")) {
		t.Error("inline script or style")
	}
	if page.header.Get("X-Frame-Options") != "DENY" {
		t.Error("X-Frame-Options")
	}
	for _, want := range []string{`<html lang="en">`, `<label for="username">`, `<label for="password">`, "<h1>"} {
		if !bytes.Contains(page.body, []byte(want)) {
			t.Errorf("page lacks %s", want)
		}
	}
	t.Run("csrf", func(t *testing.T) {
		f := hidden(page.body)
		f.Set("username", "alice")
		f.Set("password", testPassword)
		bad := url.Values{}
		for k, vv := range f {
			bad[k] = vv
		}
		// Another first character: "x" alone would leave one token in 64
		// (those starting with "x") as it was.
		csrf := f.Get("csrf")
		first := "x"
		if csrf[0] == 'x' {
			first = "y"
		}
		bad.Set("csrf", first+csrf[1:])
		if r := b.postForm(h.issuer+PathLogin, bad); r.status != http.StatusForbidden {
			t.Errorf("tampered csrf: %d", r.status)
		}
		other := h.newBrowser() // another browser (no binding cookie) replays the form
		if r := other.postForm(h.issuer+PathLogin, f); r.status != http.StatusForbidden {
			t.Errorf("form from another browser: %d", r.status)
		}
		forged := url.Values{}
		for k, vv := range f {
			forged[k] = vv
		}
		// Flip one bit of the sealed bytes (not of the text, whose last
		// character may carry unused bits).
		sealed, _ := base64.RawURLEncoding.DecodeString(f.Get("flow"))
		sealed[len(sealed)/2] ^= 1
		forged.Set("flow", base64.RawURLEncoding.EncodeToString(sealed))
		if r := b.postForm(h.issuer+PathLogin, forged); r.status != http.StatusBadRequest {
			t.Errorf("forged flow: %d", r.status)
		}
		// The same bytes in another text (the unused low bits of the last
		// character set) are refused too: one encoding per value.
		if fl := f.Get("flow"); len(fl)%4 != 0 {
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			last := strings.IndexByte(alphabet, fl[len(fl)-1])
			forged.Set("flow", fl[:len(fl)-1]+string(alphabet[last^1]))
			if r := b.postForm(h.issuer+PathLogin, forged); r.status != http.StatusBadRequest {
				t.Errorf("non-canonical flow encoding: %d", r.status)
			}
		}
	})
	t.Run("unknown user same answer", func(t *testing.T) {
		wrong := b.login(start(b), "alice", "wrong")
		unknown := b.login(start(b), "mallory", "wrong")
		if wrong.status != http.StatusUnauthorized || unknown.status != wrong.status {
			t.Fatalf("wrong password %d, unknown user %d", wrong.status, unknown.status)
		}
		strip := func(p []byte) string {
			s := hiddenRE.ReplaceAllString(string(p), "")
			return strings.ReplaceAll(s, "mallory", "alice")
		}
		if strip(wrong.body) != strip(unknown.body) {
			t.Error("pages differ between unknown user and wrong password")
		}
	})
	t.Run("cookies", func(t *testing.T) {
		f := hidden(start(b).body)
		f.Set("username", "alice")
		f.Set("password", testPassword)
		req, _ := http.NewRequest(http.MethodPost, h.issuer+PathLogin, strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r := h.do(b.c, req)
		var found bool
		for _, c := range r.header.Values("Set-Cookie") {
			if strings.HasPrefix(c, "__Host-ward-session=") {
				found = true
				for _, attr := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
					if !strings.Contains(c, attr) {
						t.Errorf("session cookie %q lacks %s", c, attr)
					}
				}
				if strings.Contains(c, "Domain=") {
					t.Error("__Host- cookie with Domain")
				}
			}
		}
		if !found {
			t.Fatalf("no __Host-ward-session cookie: %v", r.header.Values("Set-Cookie"))
		}
	})
}
