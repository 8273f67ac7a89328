package demo_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/demo"
)

func TestDevConfigValidates(t *testing.T) {
	c := config.Dev(t.TempDir())
	c.Gateway = demo.DevConfig("http://127.0.0.1:9000")
	if err := c.ValidateGateway(); err != nil {
		t.Errorf("DevConfig does not validate: %v", err)
	}
	for _, rc := range c.Gateway.Routes {
		if demo.Builtins()[rc.Upstream] == nil {
			t.Errorf("route %q: no built-in handler for %q", rc.Name, rc.Upstream)
		}
	}
}

func TestAppServesIndex(t *testing.T) {
	w := httptest.NewRecorder()
	demo.App().ServeHTTP(w, httptest.NewRequest("GET", "/app/", nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "<") {
		t.Errorf("GET /app/: %d %.80s", w.Code, w.Body)
	}
}

// TestAppExplains: the demo app says where the demo password is, what
// each button does, and greets the user by username; it renders answers
// as text nodes, never as HTML.
func TestAppExplains(t *testing.T) {
	get := func(p string) string {
		w := httptest.NewRecorder()
		demo.App().ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		return w.Body.String()
	}
	page, js := get("/app/"), get("/app/app.js")
	for _, want := range []string{"dev-credentials.json", "ward serve --dev", `id="login-action"`, `id="call-action"`, `id="logout-action"`, `id="summary"`} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if !strings.Contains(js, "u.username") || strings.Contains(js, "innerHTML") {
		t.Error("app.js does not greet by username, or writes HTML")
	}
}
