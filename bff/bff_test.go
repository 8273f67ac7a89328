package bff

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/config"
)

// The whole path: login through the authorization server's pages, the
// app's calls forwarded with a DPoP-bound token the API verifies, no token
// ever reaching the browser, and logout revoking the grant.
func TestLoginAPILogout(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	resp := b.login()
	if loc := resp.Header.Get("Location"); loc != "/home" {
		t.Fatalf("after login: Location %q, want /home (after_login)", loc)
	}
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == e.site.SessionCookie() && c.Value != "" {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/" || sc.MaxAge != int(config.DefaultBFFLifetime/time.Second) {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, Max-Age of the lifetime", sc)
	}
	if !validID(sc.Value) {
		t.Fatalf("session id %q is not a 256-bit random id", sc.Value)
	}
	sid, sess := b.session()
	if sess == nil || sess.Subject != "u-alice" || sess.AccessToken == "" || sess.RefreshToken == "" {
		t.Fatalf("server-side session %+v", sess)
	}

	code, user, _ := b.app("GET", "/bff/user", "")
	wantStatus(t, "user", code, 200, user)
	if user["sub"] != "u-alice" || user["username"] != "alice" || user["scope"] != "read" || user["authenticated"] != true {
		t.Fatalf("user: %v", user)
	}

	code, got, hdr := b.app("POST", "/bff/api/things?x=1", `{"a":1}`)
	wantStatus(t, "api", code, 200, got)
	key, _ := parseKey(sess.Key)
	cl, _ := e.site.oauthClient(context.Background(), key)
	if got["sub"] != "u-alice" || got["jkt"] != cl.Thumbprint() || got["path"] != "/v1/things" || got["query"] != "x=1" || got["body"] != `{"a":1}` || got["method"] != "POST" {
		t.Fatalf("the API saw %v", got)
	}
	if hdr.Get("Set-Cookie") != "" {
		t.Fatalf("the API's Set-Cookie reached the browser: %q", hdr.Get("Set-Cookie"))
	}
	e.mu.Lock()
	seen := e.seen
	e.mu.Unlock()
	if seen.Header.Get("Cookie") != "" || seen.Header.Get("X-Ward-Csrf") != "" || seen.Header.Get("Origin") != "" {
		t.Fatalf("browser headers reached the API: %v", seen.Header)
	}
	if !strings.HasPrefix(seen.Header.Get("Authorization"), "DPoP ") || seen.Header.Get("DPoP") == "" {
		t.Fatalf("the API call is not DPoP: %v", seen.Header)
	}

	// Logout: the session and the grant are gone.
	code, out, hdr := b.app("POST", "/bff/logout", "")
	wantStatus(t, "logout", code, 200, out)
	if out["grant_revoked"] != true {
		t.Fatalf("logout: %v", out)
	}
	if !strings.Contains(hdr.Get("Set-Cookie"), e.site.SessionCookie()+"=;") {
		t.Fatalf("logout does not clear the cookie: %q", hdr.Get("Set-Cookie"))
	}
	if e.introspect(sess.RefreshToken) || e.introspect(sess.AccessToken) {
		t.Fatal("the grant is still active after logout")
	}
	if _, err := e.site.store.Get(context.Background(), storeKey("sess", sid)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session still stored: %v", err)
	}
	// The old cookie, replayed, is worth nothing.
	req, _ := http.NewRequest("GET", e.srv.URL+"/bff/user", nil)
	req.Header.Set("X-Ward-CSRF", "1")
	req.AddCookie(&http.Cookie{Name: e.site.SessionCookie(), Value: sid})
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	wantStatus(t, "user with the logged-out cookie", r2.StatusCode, 401, nil)
}

// Nothing the browser receives, at any step, carries a token.
func TestNoTokenReachesTheBrowser(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	var seen []string
	record := func(resp *http.Response, body []byte) {
		seen = append(seen, string(body))
		for k, v := range resp.Header {
			seen = append(seen, k+": "+strings.Join(v, ","))
		}
	}
	cb := b.authorize("", "allow")
	body, resp := b.do("GET", cb.String(), nil, nil)
	record(resp, body)
	for _, p := range []string{"/bff/user", "/bff/api/x"} {
		req, _ := http.NewRequest("GET", e.srv.URL+p, nil)
		req.Header.Set("X-Ward-CSRF", "1")
		resp, err := b.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<16)
		n, _ := resp.Body.Read(buf)
		resp.Body.Close()
		record(resp, buf[:n])
	}
	_, sess := b.session()
	u, _ := url.Parse(e.srv.URL)
	for _, c := range b.hc.Jar.Cookies(u) {
		seen = append(seen, c.String())
	}
	for _, s := range seen {
		for _, tok := range []string{sess.AccessToken, sess.RefreshToken} {
			if strings.Contains(s, tok) {
				t.Fatalf("a token reached the browser in %q", s)
			}
		}
	}
}

func TestCallbackRefusals(t *testing.T) {
	e := newEnv(t)
	noSession := func(t *testing.T, resp *http.Response) {
		t.Helper()
		for _, c := range resp.Cookies() {
			if c.Name == e.site.SessionCookie() && c.Value != "" {
				t.Fatal("a session cookie was set")
			}
		}
	}
	tamper := func(t *testing.T, f func(q url.Values)) (*http.Response, []byte) {
		b := e.browser()
		cb := b.authorize("", "allow")
		q := cb.Query()
		f(q)
		cb.RawQuery = q.Encode()
		body, resp := b.do("GET", cb.String(), nil, nil)
		noSession(t, resp)
		return resp, body
	}
	before := e.tokenN.Load()
	for _, c := range []struct {
		name   string
		f      func(url.Values)
		status int
		msg    string
	}{
		{"bad state", func(q url.Values) { q.Set("state", "forged") }, 400, "does not belong to the login"},
		{"no state", func(q url.Values) { q.Del("state") }, 400, "does not belong to the login"},
		{"wrong iss", func(q url.Values) { q.Set("iss", "https://evil.example") }, 400, "RFC 9207"},
		{"no iss", func(q url.Values) { q.Del("iss") }, 400, "RFC 9207"},
		{"two iss", func(q url.Values) { q.Add("iss", q.Get("iss")) }, 400, "RFC 9207"},
		{"error response", func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") }, 403, "access_denied"},
		{"no code", func(q url.Values) { q.Del("code") }, 400, "malformed"},
		{"forged code", func(q url.Values) { q.Set("code", "forged") }, 400, "refused the code"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := tamper(t, c.f)
			if resp.StatusCode != c.status || !strings.Contains(string(body), c.msg) {
				t.Fatalf("status %d, body %.300s; want %d with %q", resp.StatusCode, body, c.status, c.msg)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Fatalf("error page CSP %q", csp)
			}
		})
	}
	// Only the forged code reached the token endpoint; every other
	// refusal happened before the code was sent anywhere.
	if n := e.tokenN.Load() - before; n != 1 {
		t.Fatalf("%d token requests, want 1 (the forged code)", n)
	}

	t.Run("replayed callback", func(t *testing.T) {
		b := e.browser()
		cb := b.authorize("", "allow")
		_, resp := b.do("GET", cb.String(), nil, nil)
		wantStatus(t, "first callback", resp.StatusCode, 303, nil)
		// The same callback again, with the login cookie put back.
		u, _ := url.Parse(e.srv.URL)
		req, _ := http.NewRequest("GET", cb.String(), nil)
		for _, c := range b.hc.Jar.Cookies(u) {
			req.AddCookie(c)
		}
		body, resp := b.do("GET", cb.String(), nil, nil)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "No login is in progress") {
			t.Fatalf("replay: %d %.200s", resp.StatusCode, body)
		}
	})
	t.Run("callback in another browser", func(t *testing.T) {
		// An attacker's callback URL (login CSRF / code injection) opened
		// in the victim's browser, which started no login.
		cb := e.browser().authorize("", "allow")
		victim := e.browser()
		body, resp := victim.do("GET", cb.String(), nil, nil)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "No login is in progress") {
			t.Fatalf("%d %.200s", resp.StatusCode, body)
		}
		noSession(t, resp)
	})
	t.Run("login cookie with the callback of another login", func(t *testing.T) {
		// Two logins in two browsers: the first browser's cookie with the
		// second's callback fails on state.
		a, v := e.browser(), e.browser()
		a.authorize("", "allow")
		cbV := v.authorize("", "allow")
		body, resp := a.do("GET", cbV.String(), nil, nil)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "does not belong") {
			t.Fatalf("%d %.200s", resp.StatusCode, body)
		}
	})
	t.Run("expired login", func(t *testing.T) {
		b := e.browser()
		cb := b.authorize("", "allow")
		e.advance(flowTTL + time.Second)
		defer e.advance(-flowTTL - time.Second)
		body, resp := b.do("GET", cb.String(), nil, nil)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "expired") {
			t.Fatalf("%d %.200s", resp.StatusCode, body)
		}
	})
	t.Run("user denies consent", func(t *testing.T) {
		e := newEnv(t) // alice has not consented yet here
		b := e.browser()
		cb := b.authorize("", "deny")
		body, resp := b.do("GET", cb.String(), nil, nil)
		if resp.StatusCode != 403 || !strings.Contains(string(body), "access_denied") {
			t.Fatalf("%d %.200s", resp.StatusCode, body)
		}
	})
}

func TestReturnToIsNeverAnOpenRedirect(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ returnTo, want string }{
		{"/orders/7?tab=2", "/orders/7?tab=2"},
		{"https://evil.example/", "/home"},
		{"//evil.example/x", "/home"},
		{`/\evil.example`, "/home"},
		{"javascript:alert(1)", "/home"},
		{"/%0d%0aSet-Cookie:x", "/%0d%0aSet-Cookie:x"}, // stays a path: encoded, on the site
		{"", "/home"},
	} {
		b := e.browser()
		cb := b.authorize("?return_to="+url.QueryEscape(c.returnTo), "allow")
		_, resp := b.do("GET", cb.String(), nil, nil)
		if loc := resp.Header.Get("Location"); loc != c.want {
			t.Errorf("return_to %q: Location %q, want %q", c.returnTo, loc, c.want)
		}
	}
}

func TestCSRFDefence(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()
	for _, c := range []struct {
		name, method, path string
		hdr                map[string]string
		reason             string
	}{
		{"no header", "GET", "/bff/user", map[string]string{}, "X-Ward-CSRF: 1"},
		{"header 0", "GET", "/bff/api/x", map[string]string{"X-Ward-CSRF": "0"}, "X-Ward-CSRF: 1"},
		{"cross-site fetch", "GET", "/bff/api/x", map[string]string{"X-Ward-CSRF": "1", "Sec-Fetch-Site": "cross-site"}, "cross-site"},
		{"same-site other origin", "POST", "/bff/api/x", map[string]string{"X-Ward-CSRF": "1", "Sec-Fetch-Site": "same-site"}, "cross-site"},
		{"other origin", "POST", "/bff/logout", map[string]string{"X-Ward-CSRF": "1", "Origin": "https://evil.example"}, "Origin"},
		{"null origin", "POST", "/bff/logout", map[string]string{"X-Ward-CSRF": "1", "Origin": "null"}, "Origin"},
		{"POST without origin", "POST", "/bff/logout", map[string]string{"X-Ward-CSRF": "1"}, "Origin or Sec-Fetch-Site"},
		{"form post", "POST", "/bff/logout", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, "X-Ward-CSRF"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, resp := b.do(c.method, e.srv.URL+c.path, nil, c.hdr)
			if resp.StatusCode != 403 || !strings.Contains(string(body), c.reason) || !strings.Contains(string(body), `"access_denied"`) {
				t.Fatalf("%d %s; want 403 mentioning %q", resp.StatusCode, body, c.reason)
			}
		})
	}
	// None of it touched the session or reached the API.
	e.mu.Lock()
	reached := e.seen != nil
	e.mu.Unlock()
	if reached {
		t.Fatal("a refused call reached the API")
	}
	if code, m, _ := b.app("GET", "/bff/user", ""); code != 200 {
		t.Fatalf("session gone after refused calls: %d %v", code, m)
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		e := newEnv(t, func(c *config.BFF, _ *Options) {
			c.Session.Lifetime, c.Session.IdleTimeout = 2*time.Hour, 30*time.Minute
		})
		b := e.browser()
		b.login()
		e.advance(20 * time.Minute)
		if code, m, _ := b.app("GET", "/bff/user", ""); code != 200 {
			t.Fatalf("after 20m: %d %v", code, m)
		}
		e.advance(29 * time.Minute) // 29m since the last use
		if code, m, _ := b.app("GET", "/bff/user", ""); code != 200 {
			t.Fatalf("use keeps the session alive: %d %v", code, m)
		}
		e.advance(31 * time.Minute)
		code, m, _ := b.app("GET", "/bff/user", "")
		if code != 401 || m["error"] != "login_required" || !strings.Contains(str(m["error_description"]), "idle") {
			t.Fatalf("idle session: %d %v", code, m)
		}
	})
	t.Run("lifetime", func(t *testing.T) {
		e := newEnv(t, func(c *config.BFF, _ *Options) { c.Session.Lifetime, c.Session.IdleTimeout = time.Hour, 40*time.Minute })
		b := e.browser()
		b.login()
		for range 3 {
			e.advance(19 * time.Minute)
			if code, m, _ := b.app("GET", "/bff/user", ""); code != 200 {
				t.Fatalf("in use: %d %v", code, m)
			}
		}
		e.advance(4 * time.Minute) // 61m since login, 4m since the last use
		code, m, _ := b.app("GET", "/bff/user", "")
		if code != 401 || !strings.Contains(str(m["error_description"]), "lifetime") {
			t.Fatalf("after the lifetime: %d %v", code, m)
		}
		if _, sess := b.session(); sess != nil {
			t.Fatal("an ended session is still stored")
		}
	})
}

// The access token is renewed with the refresh token, rotated, once
// however many calls of the session need it at the same moment.
func TestRefreshRotationSingleFlight(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()
	_, before := b.session()
	// The access token is about to expire.
	b.edit(func(s *session) { s.Expiry = time.Now().Add(refreshMargin / 2) })
	n0 := e.tokenN.Load()
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, m, _ := b.app("GET", "/bff/api/x", ""); code != 200 {
				errs <- str(code) + " " + str(m)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.tokenN.Load() - n0; n != 1 {
		t.Fatalf("%d token requests for 20 concurrent calls, want 1 refresh", n)
	}
	_, after := b.session()
	if after.RefreshToken == before.RefreshToken || after.AccessToken == before.AccessToken {
		t.Fatal("tokens not rotated")
	}
	if e.introspect(before.RefreshToken) || !e.introspect(after.RefreshToken) {
		t.Fatal("want the old refresh token dead and the new one alive")
	}
}

// A grant revoked anywhere (here: the refresh token revoked at the
// authorization server by another party) ends the session at the next
// check: logout everywhere.
func TestGrantRevokedEndsSession(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()
	_, sess := b.session()
	form := url.Values{"token": {sess.RefreshToken}, "token_type_hint": {"refresh_token"}}
	req, _ := http.NewRequest("POST", e.as.URL+"/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testClient, e.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantStatus(t, "revoke", resp.StatusCode, 200, nil)
	// Within the check interval the session is trusted as it is...
	if code, _, _ := b.app("GET", "/bff/user", ""); code != 200 {
		t.Fatalf("before the grant check: %d", code)
	}
	// ...and at the next check it ends.
	e.advance(config.DefaultBFFGrantCheck + time.Second)
	code, m, _ := b.app("GET", "/bff/user", "")
	if code != 401 || !strings.Contains(str(m["error_description"]), "revoked") {
		t.Fatalf("after the grant check: %d %v", code, m)
	}
	if _, s := b.session(); s != nil {
		t.Fatal("session still stored")
	}
}

// A refresh refused by the authorization server (the family was revoked
// because a refresh token was replayed) ends the session.
func TestRefreshRefusedEndsSession(t *testing.T) {
	e := newEnv(t, func(c *config.BFF, _ *Options) { c.Session.GrantCheckInterval = time.Hour })
	b := e.browser()
	b.login()
	sid, _ := b.session()
	// Revoke the family behind the site's back.
	fams, err := e.st.ListFamilies(context.Background(), "u-alice")
	if err != nil || len(fams) == 0 {
		t.Fatalf("families: %v %v", fams, err)
	}
	for _, f := range fams {
		if err := e.st.RevokeFamily(context.Background(), f.ID, "test", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	b.edit(func(s *session) { s.Expiry = time.Now() })
	code, m, _ := b.app("GET", "/bff/api/x", "")
	if code != 401 || m["error"] != "login_required" {
		t.Fatalf("%d %v", code, m)
	}
	if _, err := e.site.store.Get(context.Background(), storeKey("sess", sid)); !errors.Is(err, ErrNotFound) {
		t.Fatal("session still stored after the refused refresh")
	}
}

func TestEndpointsRefuseBadInput(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/bff/login", 405},
		{"POST", "/bff/callback", 405},
		{"GET", "/bff/logout", 405},
		{"DELETE", "/bff/user", 405},
		{"GET", "/bff/nothing", 404},
		{"GET", "/bff/api/a/../b", 400},
		{"GET", "/bff/api/a//b", 400},
		{"GET", "/bff/api/a%2Fb", 400},
		{"GET", "/bff/api/%2e%2e/admin", 400},
		{"GET", "/bff/api/%c0%ae%c0%ae/admin", 400}, // not UTF-8 (overlong '.')
		{"GET", "/bff/api/%ff", 400},
		{"GET", "/bff/%75ser", 200}, // an encoded letter is the same path
	} {
		body, resp := b.do(c.method, e.srv.URL+c.path, nil, map[string]string{"X-Ward-CSRF": "1", "Sec-Fetch-Site": "same-origin", "Origin": e.srv.URL})
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, resp.StatusCode, body, c.status)
		}
	}
	// A cookie that is not an id never reaches the store; one that is not
	// a session is just not logged in.
	for _, v := range []string{"x", strings.Repeat("A", 43), "../../etc/passwd", strings.Repeat("a", 5000)} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/bff/user", nil)
		req.Header.Set("X-Ward-CSRF", "1")
		req.AddCookie(&http.Cookie{Name: e.site.SessionCookie(), Value: v})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("cookie %.20q: %d, want 401", v, resp.StatusCode)
		}
	}
	// A body over the limit is refused before anything is sent.
	e2 := newEnv(t, func(_ *config.BFF, o *Options) { o.MaxBodyBytes = 10 })
	b2 := e2.browser()
	b2.login()
	if code, m, _ := b2.app("POST", "/bff/api/x", strings.Repeat("x", 11)); code != 413 {
		t.Fatalf("big body: %d %v", code, m)
	}
}

// A value moved from one key to another, or changed in the store, does
// not open.
func TestSealedValuesAreBoundToTheirKey(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()
	sid, _ := b.session()
	ctx := context.Background()
	k := storeKey("sess", sid)
	v, err := e.site.store.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newID()
	if err := e.site.store.Put(ctx, storeKey("sess", other), v, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, e := e.site.load(ctx, other); e == nil {
		t.Fatal("a session moved under another id opens")
	}
	v[len(v)-1] ^= 1
	if err := e.site.store.Put(ctx, k, v, time.Hour); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := b.app("GET", "/bff/user", ""); code != 401 {
		t.Fatalf("a tampered session: %d, want 401", code)
	}
}

// An API that requires DPoP nonces (RFC 9449 §9) answers the first proof
// with use_dpop_nonce; the BFF retries once with the nonce, body included,
// and the app sees only the final answer. Later calls of the session use
// the nonce it remembered.
func TestAPINonceRetry(t *testing.T) {
	e := newEnvWith(t, true)
	b := e.browser()
	b.login()
	n0 := e.apiN.Load()
	code, got, _ := b.app("PUT", "/bff/api/things/7", `{"n":7}`)
	if code != 200 || got["body"] != `{"n":7}` || got["method"] != "PUT" {
		t.Fatalf("%d %v", code, got)
	}
	if n := e.apiN.Load() - n0; n != 2 {
		t.Fatalf("%d API requests, want 2 (use_dpop_nonce, then the retry)", n)
	}
	// The session's client remembers the nonce: the next call goes
	// through at once.
	n1 := e.apiN.Load()
	if code, got, _ := b.app("GET", "/bff/api/things/7", ""); code != 200 {
		t.Fatalf("second call: %d %v", code, got)
	}
	if n := e.apiN.Load() - n1; n != 1 {
		t.Fatalf("second call: %d API requests, want 1 (the nonce remembered)", n)
	}
	// Logout forgets the session's client.
	b.app("POST", "/bff/logout", "")
	e.site.cmu.Lock()
	left := len(e.site.apiClients)
	e.site.cmu.Unlock()
	if left != 0 {
		t.Fatalf("%d API clients kept after logout", left)
	}
}

// An API that refuses the token (for example one that introspects and
// sees it revoked) answers the app with its status; the BFF passes its
// challenge on only as a status, never WWW-Authenticate or DPoP-Nonce.
func TestAPIRefusalPassedOn(t *testing.T) {
	e := newEnv(t, func(c *config.BFF, _ *Options) { c.Scopes = nil })
	b := e.browser()
	b.login()
	code, m, hdr := b.app("GET", "/bff/api/x", "")
	// Without the read scope the API's middleware answers 403.
	if code != 403 || hdr.Get("WWW-Authenticate") != "" || hdr.Get("DPoP-Nonce") != "" {
		t.Fatalf("%d %v %v", code, m, hdr)
	}
}

// An API that does not answer in time gives 504, an unreachable one 502.
func TestAPIUnavailable(t *testing.T) {
	e := newEnv(t, func(_ *config.BFF, o *Options) { o.UpstreamTimeout = 100 * time.Millisecond })
	b := e.browser()
	b.login()
	if code, m, _ := b.app("GET", "/bff/api/slow", ""); code != 504 || m["error"] != "temporarily_unavailable" {
		t.Fatalf("slow API: %d %v", code, m)
	}
	e.api.Close()
	if code, m, _ := b.app("GET", "/bff/api/x", ""); code != 502 || m["error"] != "temporarily_unavailable" {
		t.Fatalf("API down: %d %v", code, m)
	}
}

// With the authorization server or the session store out of reach, the
// BFF answers 503 and serves nothing unchecked.
func TestDependenciesDown(t *testing.T) {
	t.Run("authorization server", func(t *testing.T) {
		e := newEnv(t)
		e.as.Close()
		body, resp := e.browser().do("GET", e.srv.URL+"/bff/login", nil, nil)
		if resp.StatusCode != 503 || !strings.Contains(string(body), "cannot be reached") {
			t.Fatalf("%d %.200s", resp.StatusCode, body)
		}
	})
	t.Run("session store", func(t *testing.T) {
		down := NewRedisStore(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1}), "x:")
		e := newEnv(t, func(_ *config.BFF, o *Options) { o.Store = down })
		b := e.browser()
		body, resp := b.do("GET", e.srv.URL+"/bff/login", nil, nil)
		if resp.StatusCode != 503 {
			t.Fatalf("login: %d %.200s", resp.StatusCode, body)
		}
		id, _ := newID()
		req, _ := http.NewRequest("GET", e.srv.URL+"/bff/api/x", nil)
		req.Header.Set("X-Ward-CSRF", "1")
		req.AddCookie(&http.Cookie{Name: e.site.SessionCookie(), Value: id})
		r2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r2.Body.Close()
		if r2.StatusCode != 503 || e.apiN.Load() != 0 {
			t.Fatalf("api: %d, %d API calls", r2.StatusCode, e.apiN.Load())
		}
	})
}

// A second login in the same browser gets a new session id (no fixation)
// and ends the first session, whose grant is revoked: nobody holds its
// tokens any more.
func TestLoginAgainReplacesTheSession(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()
	sid1, first := b.session()
	b.login()
	sid2, second := b.session()
	if sid2 == sid1 || second == nil || second.RefreshToken == first.RefreshToken {
		t.Fatal("the second login kept the first session")
	}
	if _, err := e.site.store.Get(context.Background(), storeKey("sess", sid1)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the first session is still stored: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.introspect(first.RefreshToken) {
		if time.Now().After(deadline) {
			t.Fatal("the replaced session's grant is still active")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !e.introspect(second.RefreshToken) {
		t.Fatal("the new session's grant was revoked too")
	}
}
