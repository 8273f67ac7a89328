package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

const (
	testPassword = "correct horse battery staple"
	testSecret   = "console-test-secret-0123456789abcdefghijklmnop"
)

// env is Ward's authorization server with the console mounted, on a
// loopback socket, and the events the console emitted.
type env struct {
	t      testing.TB
	url    string
	st     store.Store
	as     *authz.Server
	con    *Console
	opts   Options
	cfg    *config.Config
	mu     sync.Mutex
	events []secevent.Event
	got    chan struct{}
}

// users: alice is an administrator, bob is not.
var testUsers = []store.User{
	{Subject: "u-alice", Username: "alice", Claims: store.UserClaims{Name: "Alice", Roles: []string{"admin"}}},
	{Subject: "u-bob", Username: "bob", Claims: store.UserClaims{Name: "Bob"}},
}

func newEnv(t testing.TB, tweak ...func(*config.Config)) *env {
	t.Helper()
	return newEnvOpts(t, nil, tweak...)
}

// newEnvOpts is newEnv with the console's options changed by opt.
func newEnvOpts(t testing.TB, opt func(*Options), tweak ...func(*config.Config)) *env {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hs := httptest.NewUnstartedServer(nil)
	e := &env{t: t, url: "http://" + hs.Listener.Addr().String(), st: st, got: make(chan struct{}, 1000)}
	cfg := config.Default()
	cfg.Issuer = e.url
	cfg.Console = config.Console{Enabled: true}
	for _, f := range tweak {
		f(cfg)
	}
	e.cfg = cfg
	now := time.Now()
	for _, u := range testUsers {
		u.PasswordHash, err = password.Hash(testPassword)
		if err != nil {
			t.Fatal(err)
		}
		u.CreatedAt, u.UpdatedAt = now, now
		if err := st.CreateUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	var kek keys.KEK
	_, _ = rand.Read(kek[:])
	km, err := keys.New(st, []keys.KEK{kek}, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.EnsureKey(ctx, now); err != nil {
		t.Fatal(err)
	}
	em := secevent.NewEmitter(secevent.Options{Logger: quiet, Sinks: []secevent.Sink{secevent.SinkFunc(e.sink)}})
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go func() { _ = em.Run(runCtx) }()
	as, err := authz.New(cfg, authz.Options{Store: st, Keys: km, Logger: quiet, Events: em})
	if err != nil {
		t.Fatal(err)
	}
	e.as = as
	if err := DeclareClient(ctx, st, cfg.Console, cfg.Issuer, testSecret, now); err != nil {
		t.Fatal(err)
	}
	o := Options{Issuer: cfg.Issuer, Handler: as.Handler(), Store: st, Keys: km, Accounts: as,
		ClientSecret: testSecret, Events: em, Logger: quiet, Instance: "test"}
	if opt != nil {
		opt(&o)
	}
	e.opts = o
	c, err := New(cfg.Console, o)
	if err != nil {
		t.Fatal(err)
	}
	as.Mount(c.Pattern(), c)
	e.con = c
	hs.Config.Handler = as.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	return e
}

func (e *env) sink(_ context.Context, evs []secevent.Event) error {
	e.mu.Lock()
	e.events = append(e.events, evs...)
	e.mu.Unlock()
	for range evs {
		e.got <- struct{}{}
	}
	return nil
}

// event waits for an event of type t whose reason is reason (any when
// empty) and returns it; it fails the test when none comes.
func (e *env) event(t secevent.Type, reason string) secevent.Event {
	e.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		e.mu.Lock()
		for _, ev := range e.events {
			if ev.Type == t && (reason == "" || ev.Reason == reason) {
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
		select {
		case <-e.got:
		case <-deadline:
			e.t.Fatalf("no %s event with reason %q; got %+v", t, reason, e.events)
		}
	}
}

// browser is an operator's browser: a cookie jar, and the console's
// script's way of calling the admin API through the BFF.
type browser struct {
	t  testing.TB
	e  *env
	hc *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, e: e, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// login signs user in through the console's BFF and Ward's login and
// consent pages.
func (b *browser) login(user string) {
	b.t.Helper()
	body, resp := b.do("GET", b.e.url+"/console/bff/login?return_to=/console/clients", nil, nil)
	for range 3 {
		if strings.HasPrefix(resp.Request.URL.Path, "/console/") && !strings.HasPrefix(resp.Request.URL.Path, "/console/bff/") {
			return
		}
		f := wardtest.HiddenFields(body)
		switch {
		case bytes.Contains(body, []byte(`name="password"`)):
			f.Set("username", user)
			f.Set("password", testPassword)
			body, resp = b.do("POST", b.e.url+authz.PathLogin, f, nil)
		case bytes.Contains(body, []byte(`name="decision"`)):
			f.Set("decision", "allow")
			body, resp = b.do("POST", b.e.url+authz.PathConsent, f, nil)
		default:
			b.t.Fatalf("unexpected page %s: %.400s", resp.Request.URL, body)
		}
	}
	if !strings.HasPrefix(resp.Request.URL.Path, "/console/") {
		b.t.Fatalf("login ended at %s: %.300s", resp.Request.URL, body)
	}
}

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

// api calls the admin API as the console's script does: through the
// BFF, same origin, with the CSRF header. form is sent with POST; nil
// with GET.
func (b *browser) api(path string, form url.Values) (int, string) {
	b.t.Helper()
	method := "GET"
	if form != nil {
		method = "POST"
	}
	body, resp := b.do(method, b.e.url+"/console/bff/api"+path, form, map[string]string{
		"X-Ward-CSRF": "1", "Sec-Fetch-Site": "same-origin", "Origin": b.e.url,
	})
	return resp.StatusCode, string(body)
}

// failLogin tries to sign user in with a wrong password.
func (b *browser) failLogin(user string) {
	b.t.Helper()
	body, _ := b.do("GET", b.e.url+"/console/bff/login", nil, nil)
	f := wardtest.HiddenFields(body)
	f.Set("username", user)
	f.Set("password", "wrong password")
	b.do("POST", b.e.url+authz.PathLogin, f, nil)
}
