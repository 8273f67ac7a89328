package bff

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/authztest"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/store"
)

const (
	testPassword = "correct horse battery staple"
	testClient   = "app-bff"
)

// env is a whole BFF deployment in process, over loopback sockets: Ward's
// authorization server, an API that accepts only DPoP-bound tokens (the
// resource middleware), and the site.
type env struct {
	t      *testing.T
	as     *httptest.Server
	api    *httptest.Server
	site   *Site
	srv    *httptest.Server // the site
	st     store.Store
	secret string
	offset atomic.Int64 // the site's clock runs this many ns ahead
	tokenN atomic.Int64 // requests to the AS's /token
	// seen is what the API received last; apiN counts its requests.
	mu   sync.Mutex
	seen *http.Request
	apiN atomic.Int64
	// apiNonces makes the API require DPoP nonces (RFC 9449 §9).
	apiNonces bool
	// asHook, when set, serves the authorization server's requests in
	// its stead (next is the real server): tests that tamper with what
	// the site receives.
	asHook func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

func (e *env) hook() func(http.ResponseWriter, *http.Request, http.Handler) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.asHook
}

func (e *env) setHook(h func(http.ResponseWriter, *http.Request, http.Handler)) {
	e.mu.Lock()
	e.asHook = h
	e.mu.Unlock()
}

type envOpt func(*config.BFF, *Options)

func newEnv(t *testing.T, opts ...envOpt) *env {
	return newEnvWith(t, false, opts...)
}

func newEnvWith(t *testing.T, apiNonces bool, opts ...envOpt) *env {
	t.Helper()
	e := &env{t: t, apiNonces: apiNonces}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.as = httptest.NewUnstartedServer(nil)
	e.api = httptest.NewUnstartedServer(nil)
	e.srv = httptest.NewUnstartedServer(nil)
	apiURL := "http://" + e.api.Listener.Addr().String()
	siteURL := "http://" + e.srv.Listener.Addr().String()

	as := authztest.New(t, authztest.Options{
		Server: e.as,
		Clients: []store.Client{{
			ID: testClient, AuthMethod: oauth.AuthSecretBasic,
			GrantTypes:   []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			RedirectURIs: []string{siteURL + "/bff/callback"}, Scopes: []string{"read", "write", "openid", "profile"},
			PostLogoutRedirectURIs: []string{siteURL + "/"},
			Audiences:              []string{apiURL}, SenderConstraint: store.ConstraintDPoP,
		}},
		Users: []authztest.User{{Subject: "u-alice", Username: "alice", Password: testPassword,
			Claims: store.UserClaims{Name: "Alice Martin", PreferredUsername: "alice"}}},
		Wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == authz.PathToken {
					e.tokenN.Add(1)
				}
				if hk := e.hook(); hk != nil {
					hk(w, r, h)
					return
				}
				h.ServeHTTP(w, r)
			})
		},
	})
	e.st, e.secret = as.Store, as.Secrets[testClient]
	issuer := as.URL

	// The API: the resource middleware, DPoP-bound tokens only.
	vopts := []dpop.VerifierOption{dpop.WithAllowedAlgorithms(dpop.ES256), dpop.WithBaseURL(apiURL)}
	if e.apiNonces {
		n, err := dpop.NewStatelessNonces("api", time.Minute, bytes.Repeat([]byte{5}, 32))
		if err != nil {
			t.Fatal(err)
		}
		vopts = append(vopts, dpop.WithNonces(n))
	}
	v, err := dpop.NewVerifier(vopts...)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := resource.New(resource.Config{Issuer: issuer, Audience: apiURL, DPoP: v, Keys: resource.NewRemoteKeys(issuer, resource.RemoteKeysOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	protected := rs.Require("read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.seen = r.Clone(context.Background())
		e.mu.Unlock()
		id, _ := resource.IdentityFrom(r.Context())
		body, _ := io.ReadAll(r.Body)
		http.SetCookie(w, &http.Cookie{Name: "api-cookie", Value: "x"})
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"sub": id.Subject, "jkt": id.JKT, "method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "body": string(body)})
	}))
	e.api.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.apiN.Add(1)
		if r.URL.Path == "/v1/slow" {
			time.Sleep(500 * time.Millisecond)
		}
		protected.ServeHTTP(w, r)
	})
	e.api.Start()
	t.Cleanup(e.api.Close)

	cfg := config.BFF{Name: "app", PublicURL: siteURL, ClientID: testClient, Scopes: []string{"read"}, Resource: apiURL, API: apiURL + "/v1", AfterLogin: "/home"}
	o := Options{Issuer: issuer, ClientSecret: e.secret, Logger: quiet, Clock: func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }}
	for _, f := range opts {
		f(&cfg, &o)
	}
	site, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	e.site = site
	e.srv.Config.Handler = site
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// advance moves the site's clock.
func (e *env) advance(d time.Duration) { e.offset.Add(int64(d)) }

// browser is a cookie-keeping user agent that stops at the redirect to
// the site's callback, so a test can look at (or tamper with) it.
type browser struct {
	t        *testing.T
	e        *env
	hc       *http.Client
	callback *url.URL
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: e.t, e: e}
	b.hc = &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/bff/callback") {
			b.callback = req.URL
			return http.ErrUseLastResponse
		}
		if !strings.HasPrefix(req.URL.String(), e.as.URL) {
			return http.ErrUseLastResponse // the site's own redirects are looked at, not followed
		}
		return nil
	}}
	return b
}

// authorize runs /bff/login and the authorization server's pages as
// alice (consenting with decision) and returns the callback URL the
// authorization server redirected to, without following it.
func (b *browser) authorize(loginQuery, decision string) *url.URL {
	b.t.Helper()
	b.callback = nil
	body, _ := b.do("GET", b.e.srv.URL+"/bff/login"+loginQuery, nil, nil)
	for range 3 {
		if b.callback != nil {
			return b.callback
		}
		f := wardtest.HiddenFields(body)
		switch {
		case bytes.Contains(body, []byte(`name="password"`)):
			f.Set("username", "alice")
			f.Set("password", testPassword)
			body, _ = b.do("POST", b.e.as.URL+authz.PathLogin, f, nil)
		case bytes.Contains(body, []byte(`name="decision"`)):
			f.Set("decision", decision)
			body, _ = b.do("POST", b.e.as.URL+authz.PathConsent, f, nil)
		default:
			b.t.Fatalf("unexpected page: %.400s", body)
		}
	}
	if b.callback == nil {
		b.t.Fatalf("no redirect to the callback; last page %.400s", body)
	}
	return b.callback
}

// login logs alice in and follows the callback; it returns the
// callback's response.
func (b *browser) login() *http.Response {
	b.t.Helper()
	cb := b.authorize("", "allow")
	_, resp := b.do("GET", cb.String(), nil, nil)
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("callback: %d", resp.StatusCode)
	}
	return resp
}

// do sends a request with the browser's cookies. A form body is sent
// urlencoded; headers are added as given.
func (b *browser) do(method, u string, form url.Values, hdr map[string]string) ([]byte, *http.Response) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return out, resp
}

// app sends a call as the app's own script would: same origin, with the
// CSRF header.
func (b *browser) app(method, path string, body string) (int, map[string]any, http.Header) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("X-Ward-CSRF", "1")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", b.e.srv.URL)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 && json.Unmarshal(raw, &m) != nil {
		b.t.Fatalf("%s %s: %d, not JSON: %.300s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, m, resp.Header
}

// session returns the server-side session of the browser's cookie.
func (b *browser) session() (string, *session) {
	b.t.Helper()
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == b.e.site.SessionCookie() {
			s, err := b.e.site.load(context.Background(), c.Value)
			if err != nil {
				return c.Value, nil
			}
			return c.Value, s
		}
	}
	return "", nil
}

// edit changes the browser's server-side session.
func (b *browser) edit(f func(*session)) {
	b.t.Helper()
	sid, sess := b.session()
	if sess == nil {
		b.t.Fatal("no session to edit")
	}
	f(sess)
	if err := b.e.site.put(context.Background(), sid, sess); err != nil {
		b.t.Fatal(err)
	}
}

// introspect asks the authorization server about token as the BFF's
// client.
func (e *env) introspect(token string) bool {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.as.URL+authz.PathIntrospect, strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testClient, e.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatal(err)
	}
	return out.Active
}

func wantStatus(t *testing.T, what string, got, want int, body any) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d (%v)", what, got, want, body)
	}
}

func str(v any) string { return fmt.Sprint(v) }

func requestWithCookie(name, value string) *http.Request {
	r := httptest.NewRequest("GET", "/bff/user", nil)
	r.AddCookie(&http.Cookie{Name: name, Value: value})
	return r
}
