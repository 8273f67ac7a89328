package bff

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
)

// TestRefusalPage: a refused login or callback shows a page that says
// what happened, links to sign in again and back to the app, and shows
// the code; its one inline stylesheet is allowed by hash, nothing else
// is, and the description is escaped.
func TestRefusalPage(t *testing.T) {
	s := &Site{cfg: config.BFF{PathPrefix: "/bff", AfterLogin: "/app/"}}
	w := httptest.NewRecorder()
	s.page(w, &oauth.Error{Code: oauth.InvalidRequest, Reason: "no_login", Status: 400, Description: "<b>expired</b>"})
	body := w.Body.String()
	for _, want := range []string{`href="/bff/login"`, `href="/app/"`, "<code>invalid_request</code>", "&lt;b&gt;expired&lt;/b&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	m := regexp.MustCompile(`(?s)<style>(.*)</style>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no stylesheet")
	}
	sum := sha256.Sum256([]byte(m[1]))
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"';") || !strings.HasPrefix(csp, "default-src 'none';") || strings.Contains(body, "<script") {
		t.Errorf("CSP %q", csp)
	}
}
