package client

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestLoopbackPage: the page at the end of AuthorizeLoopback says the
// window can be closed, or why the sign-in failed and what to do; its
// one inline stylesheet is allowed by hash and nothing else is; what the
// redirect carried is escaped.
func TestLoopbackPage(t *testing.T) {
	w := httptest.NewRecorder()
	writeLoopbackPage(w, nil)
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "<h1>You are signed in</h1>") || !strings.Contains(body, "close this window") {
		t.Fatalf("signed in: %d\n%s", w.Code, body)
	}
	m := regexp.MustCompile(`(?s)<style>(.*)</style>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no stylesheet")
	}
	sum := sha256.Sum256([]byte(m[1]))
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") ||
		!strings.HasPrefix(csp, "default-src 'none';") || strings.Contains(csp, "unsafe") || strings.Contains(body, "<script") {
		t.Errorf("CSP %q does not allow exactly the page's stylesheet", csp)
	}

	w = httptest.NewRecorder()
	writeLoopbackPage(w, &AuthorizationError{ErrorCode: "access_denied", ErrorDescription: "<script>alert(1)</script>"})
	body = w.Body.String()
	for _, want := range []string{"<h1>Sign-in did not complete</h1>", "cancelled", "run the command again", "&lt;script&gt;alert(1)&lt;/script&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("failed page lacks %q:\n%s", want, body)
		}
	}
	if w.Code != 400 || strings.Contains(body, "<script>") {
		t.Errorf("failed page: %d\n%s", w.Code, body)
	}
	if !strings.Contains(loopbackReason(ErrStateMismatch), "does not belong") {
		t.Error("state mismatch reason")
	}
}
