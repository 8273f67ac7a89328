package console

import (
	"net/http"
	"strings"
	"testing"
)

func TestClientsList(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("alice")
	code, body := b.api("/clients", nil)
	if code != http.StatusOK || !strings.Contains(body, "ward-console") || !strings.Contains(body, `aria-current="page"`) {
		t.Fatalf("clients: %d %.600s", code, body)
	}
	code, body = b.api("/clients?q=nothing-matches", nil)
	if code != http.StatusOK || strings.Contains(body, "<code>ward-console</code>") {
		t.Fatalf("search: %d %.600s", code, body)
	}
}
