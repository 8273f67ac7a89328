package authz

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/store"
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

// TestAuthorizeNeverRedirectsUntrusted: a bad client_id or redirect_uri
// shows an error page and never redirects (RFC 6749 §4.1.2.1, RFC 9700
// §4.11 open redirectors).
func TestAuthorizeNeverRedirectsUntrusted(t *testing.T) {
	h := newHarness(t)
	ch := pkce.Challenge(strings.Repeat("a", 43))
	tests := map[string]url.Values{
		"unknown client":         authParams("nobody", webRedirect, ch),
		"missing client":         authParams("", webRedirect, ch),
		"unregistered redirect":  authParams("web", "https://evil.example/cb", ch),
		"missing redirect":       authParams("web", "", ch),
		"javascript redirect":    authParams("web", "javascript:alert(1)", ch),
		"trailing slash":         authParams("web", webRedirect+"/", ch),
		"userinfo":               authParams("web", "https://app.example@evil.example/cb", ch),
		"redirect of other":      authParams("web", spaRedirect, ch),
		"bad request and client": authParams("nobody", "https://evil.example/cb", ""),
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			r := h.newBrowser().get(h.issuer + PathAuthorize + "?" + p.Encode())
			if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
				t.Fatalf("got %d Location %q, want 400 error page", r.status, r.header.Get("Location"))
			}
			if !bytes.Contains(r.body, []byte("Sign-in error")) {
				t.Errorf("no error page: %s", r.body)
			}
		})
	}
}

// TestAuthorizeErrorsCarryIssAndState: every error sent to a verified
// redirect URI carries iss (RFC 9207 §2) and state.
func TestAuthorizeErrorsCarryIssAndState(t *testing.T) {
	h := newHarness(t)
	v, _ := pkce.NewVerifier()
	ch := pkce.Challenge(v)
	mod := func(f func(url.Values)) url.Values {
		p := authParams("web", webRedirect, ch)
		f(p)
		return p
	}
	tests := []struct {
		name, code string
		p          url.Values
	}{
		{"implicit", "unsupported_response_type", mod(func(p url.Values) { p.Set("response_type", "token") })},
		{"id_token", "unsupported_response_type", mod(func(p url.Values) { p.Set("response_type", "code id_token") })},
		{"no response_type", "invalid_request", mod(func(p url.Values) { p.Del("response_type") })},
		{"no challenge", "invalid_request", mod(func(p url.Values) { p.Del("code_challenge"); p.Del("code_challenge_method") })},
		{"plain", "invalid_request", mod(func(p url.Values) { p.Set("code_challenge_method", "plain") })},
		{"method omitted", "invalid_request", mod(func(p url.Values) { p.Del("code_challenge_method") })},
		{"bad challenge", "invalid_request", mod(func(p url.Values) { p.Set("code_challenge", "short") })},
		{"scope", "invalid_scope", mod(func(p url.Values) { p.Set("scope", "read admin") })},
		{"resource", "invalid_target", mod(func(p url.Values) { p.Set("resource", "https://evil.example") })},
		{"dpop_jkt", "invalid_request", mod(func(p url.Values) { p.Set("dpop_jkt", "not-a-thumbprint") })},
		{"request object", "request_not_supported", mod(func(p url.Values) { p.Set("request", "eyJ.x.y") })},
		{"response_mode", "invalid_request", mod(func(p url.Values) { p.Set("response_mode", "fragment") })},
		{"prompt none", "login_required", mod(func(p url.Values) { p.Set("prompt", "none") })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := redirectQuery(t, h.newBrowser().get(h.issuer+PathAuthorize+"?"+tt.p.Encode()))
			if q.Get("error") != tt.code || q.Get("iss") != h.issuer || q.Get("state") != "st-web" {
				t.Fatalf("got %v, want error=%s with iss and state", q, tt.code)
			}
			if tt.name == "implicit" && !strings.Contains(q.Get("error_description"), "OAuth 2.1") {
				t.Errorf("description %q does not say OAuth 2.1 removed it", q.Get("error_description"))
			}
		})
	}
	t.Run("access denied", func(t *testing.T) {
		b := h.newBrowser()
		r := b.get(h.issuer + PathAuthorize + "?" + authParams("web", webRedirect, ch).Encode())
		r = b.consent(b.login(r, "alice", testPassword), "deny")
		q := redirectQuery(t, r)
		if q.Get("error") != "access_denied" || q.Get("iss") != h.issuer || q.Get("state") != "st-web" {
			t.Fatalf("got %v", q)
		}
	})
	t.Run("POST", func(t *testing.T) {
		b := h.newBrowser()
		r := b.postForm(h.issuer+PathAuthorize, mod(func(p url.Values) { p.Set("response_type", "token") }))
		if q := redirectQuery(t, r); q.Get("error") != "unsupported_response_type" || q.Get("iss") != h.issuer {
			t.Fatalf("got %v", q)
		}
	})
}

// TestPAR: pushed requests are used once, expire, belong to the pushing
// client; PAR can be required per client and globally (RFC 9126).
func TestPAR(t *testing.T) {
	h := newHarness(t)
	v, _ := pkce.NewVerifier()
	push := func(client string, p url.Values) *response {
		return h.post(PathPAR, p, h.auth(client, p)...)
	}
	t.Run("single use", func(t *testing.T) {
		r := push("web", authParams("web", webRedirect, pkce.Challenge(v)))
		if r.status != http.StatusCreated || !strings.HasPrefix(r.str("request_uri"), requestURIPrefix) || r.json["expires_in"] == nil {
			t.Fatalf("PAR: %d %s", r.status, r.body)
		}
		q := url.Values{"client_id": {"web"}, "request_uri": {r.str("request_uri")}}
		b := h.newBrowser()
		code := h.authorize(b, q)
		if code.Get("code") == "" || code.Get("state") != "st-web" {
			t.Fatalf("got %v", code)
		}
		again := b.get(h.issuer + PathAuthorize + "?" + q.Encode())
		if again.status != http.StatusBadRequest || !bytes.Contains(again.body, []byte("invalid_request_uri")) {
			t.Fatalf("second use: %d %s", again.status, again.body)
		}
	})
	t.Run("expired", func(t *testing.T) {
		r := push("web", authParams("web", webRedirect, pkce.Challenge(v)))
		h.clk.Advance(61e9)
		q := url.Values{"client_id": {"web"}, "request_uri": {r.str("request_uri")}}
		if got := h.newBrowser().get(h.issuer + PathAuthorize + "?" + q.Encode()); got.status != http.StatusBadRequest {
			t.Fatalf("expired request_uri: %d", got.status)
		}
	})
	t.Run("other client", func(t *testing.T) {
		r := push("web", authParams("web", webRedirect, pkce.Challenge(v)))
		q := url.Values{"client_id": {"post"}, "request_uri": {r.str("request_uri")}}
		if got := h.newBrowser().get(h.issuer + PathAuthorize + "?" + q.Encode()); got.status != http.StatusBadRequest || got.header.Get("Location") != "" {
			t.Fatalf("request_uri of another client: %d", got.status)
		}
		// The refusal did not use the request up: its owner still can.
		q.Set("client_id", "web")
		if code := h.authorize(h.newBrowser(), q); code.Get("code") == "" {
			t.Fatalf("owner after another client's attempt: %v", code)
		}
	})
	t.Run("validated at push", func(t *testing.T) {
		p := authParams("web", webRedirect, "")
		wantError(t, push("web", p), http.StatusBadRequest, "invalid_request")
		wantError(t, push("web", authParams("web", "https://evil.example/", pkce.Challenge(v))), http.StatusBadRequest, "invalid_request")
		wrong := authParams("web", webRedirect, pkce.Challenge(v))
		wrong.Set("client_secret", "wrong")
		wantError(t, h.post(PathPAR, wrong), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("required per client", func(t *testing.T) {
		q := redirectQuery(t, h.newBrowser().get(h.issuer+PathAuthorize+"?"+authParams("paronly", spaRedirect, pkce.Challenge(v)).Encode()))
		if q.Get("error") != "invalid_request" || q.Get("iss") != h.issuer {
			t.Fatalf("got %v", q)
		}
		r := push("paronly", authParams("paronly", spaRedirect, pkce.Challenge(v)))
		if code := h.authorize(h.newBrowser(), url.Values{"client_id": {"paronly"}, "request_uri": {r.str("request_uri")}}); code.Get("code") == "" {
			t.Fatalf("got %v", code)
		}
	})
}

func TestPARRequiredGlobally(t *testing.T) {
	h := newHarness(t, func(c *configT) { c.PAR.Required = true })
	v, _ := pkce.NewVerifier()
	q := redirectQuery(t, h.newBrowser().get(h.issuer+PathAuthorize+"?"+authParams("web", webRedirect, pkce.Challenge(v)).Encode()))
	if q.Get("error") != "invalid_request" {
		t.Fatalf("got %v", q)
	}
	if !h.s.Metadata().RequirePushedAuthorizationRequests {
		t.Error("metadata does not advertise required PAR")
	}
}

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

// TestConsentRememberedAndRevocable: consent is remembered per client and
// scope; a wider scope asks again; revoking it asks again and revokes the
// client's grants.
func TestConsentRememberedAndRevocable(t *testing.T) {
	h := newHarness(t)
	v, _ := pkce.NewVerifier()
	b := h.newBrowser()
	p := authParams("web", webRedirect, pkce.Challenge(v))
	p.Set("scope", "read")
	h.authorize(b, p)
	r := b.get(h.issuer + PathAuthorize + "?" + p.Encode())
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), webRedirect) {
		t.Fatalf("remembered consent still asked: %d", r.status)
	}
	q, _ := url.ParseQuery(strings.SplitN(r.header.Get("Location"), "?", 2)[1])
	tok := h.exchange("web", q.Get("code"), v, webRedirect, h.newSigner())
	wantToken(t, tok)
	p.Set("scope", "read write")
	if r := b.get(h.issuer + PathAuthorize + "?" + p.Encode()); !bytes.Contains(r.body, []byte(`name="decision"`)) {
		t.Fatalf("wider scope did not ask: %d", r.status)
	}
	if err := h.s.RevokeConsent(context.Background(), "u-alice", "web"); err != nil {
		t.Fatal(err)
	}
	p.Set("scope", "read")
	if r := b.get(h.issuer + PathAuthorize + "?" + p.Encode()); !bytes.Contains(r.body, []byte(`name="decision"`)) {
		t.Fatalf("revoked consent did not ask: %d", r.status)
	}
	if in := h.introspect(tok.str("refresh_token")); in.json["active"] != false {
		t.Error("grant survives consent revocation")
	}
	// prompt=consent always asks.
	h.authorize(b, p)
	p.Set("prompt", "consent")
	if r := b.get(h.issuer + PathAuthorize + "?" + p.Encode()); !bytes.Contains(r.body, []byte(`name="decision"`)) {
		t.Fatal("prompt=consent did not ask")
	}
}

// TestConsentEveryTimeForUnprovenRedirects: a public client whose redirect
// URI cannot prove its identity (loopback on any port, a private-use
// scheme) gets the consent page on every authorization, remembered consent
// or not, and prompt=none gets consent_required instead of a code (RFC
// 8252 §8.6, RFC 6749 §10.2): otherwise any local process listening on a
// loopback port could take a code from a browser with a session. An
// operator may opt a client out (AllowRememberedConsent); an https
// redirect URI and confidential clients keep remembered consent
// (TestConsentRememberedAndRevocable).
func TestConsentEveryTimeForUnprovenRedirects(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const native = "com.example.app:/cb"
	if _, err := CreateClient(ctx, h.st, &store.Client{ID: "native", AuthMethod: AuthNone, RedirectURIs: []string{native},
		GrantTypes: []string{GrantAuthorizationCode}, Scopes: []string{"read"}, Audiences: []string{testAPI}}, h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	v, _ := pkce.NewVerifier()
	for _, tc := range []struct{ client, redirect string }{
		{"spa", "http://127.0.0.1:49152/cb"},
		{"native", native},
	} {
		t.Run(tc.client, func(t *testing.T) {
			b := h.newBrowser()
			p := authParams(tc.client, tc.redirect, pkce.Challenge(v))
			p.Set("scope", "read")
			if q := h.authorize(b, p); q.Get("code") == "" {
				t.Fatalf("first authorization: %v", q)
			}
			if r := b.get(h.issuer + PathAuthorize + "?" + p.Encode()); !bytes.Contains(r.body, []byte(`name="decision"`)) {
				t.Fatalf("remembered consent gave a %d %s without interaction", r.status, r.header.Get("Location"))
			}
			p.Set("prompt", "none")
			q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+p.Encode()))
			if q.Get("error") != "consent_required" || q.Get("code") != "" || q.Get("iss") != h.issuer {
				t.Fatalf("prompt=none: %v", q)
			}
		})
	}
	t.Run("opted out", func(t *testing.T) {
		c, err := h.st.GetClient(ctx, "spa")
		if err != nil {
			t.Fatal(err)
		}
		c.AllowRememberedConsent = true
		if err := h.st.UpsertClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		h.s.ForgetClient("spa")
		b := h.newBrowser()
		p := authParams("spa", spaRedirect, pkce.Challenge(v))
		h.authorize(b, p)
		p.Set("prompt", "none")
		if q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+p.Encode())); q.Get("code") == "" {
			t.Fatalf("opted-out client: %v", q)
		}
	})
}
