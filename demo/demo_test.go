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
