package console

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/wardauth/ward/bff"
	"github.com/wardauth/ward/internal/wardtest"
)

// With console.session_store: redis, a session made at one instance is
// served by another that has the same key (several instances behind a
// load balancer).
func TestSessionsSharedThroughRedis(t *testing.T) {
	_, rc, prefix := wardtest.Redis(t, "console")
	key := bytes.Repeat([]byte{3}, 32)
	e := newEnvOpts(t, func(o *Options) { o.Sessions, o.SessionKey = bff.NewRedisStore(rc, prefix), key })
	b := e.browser()
	b.login("alice")
	other, err := New(e.cfg.Console, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(e.url)
	req := httptest.NewRequest("GET", e.url+"/console/bff/api/clients", nil)
	for _, c := range b.hc.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	req.Header.Set("X-Ward-CSRF", "1")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	w := httptest.NewRecorder()
	other.ServeHTTP(w, req)
	if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte("ward-console")) {
		t.Fatalf("the other instance: %d %.300s", w.Code, w.Body.String())
	}
}
