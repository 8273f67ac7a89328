package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
)

// TestInputLimits: each oversized input gets a clear 4xx, never a 5xx,
// and never reaches the upstream.
func TestInputLimits(t *testing.T) {
	e := newEnv(t, func(g *config.Gateway) { g.Limits.MaxBodyBytes = 1024 })
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"body over max_body_bytes (Content-Length)", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, publicURL+"/public/x", strings.NewReader(strings.Repeat("a", 2048)))
		}, http.StatusRequestEntityTooLarge},
		{"access token over 8 KiB", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, publicURL+"/orders/1", nil)
			r.Header.Set("Authorization", "DPoP "+strings.Repeat("a", 9<<10))
			r.Header.Set("DPoP", "x")
			return r
		}, http.StatusUnauthorized},
		{"DPoP proof over 8 KiB", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, publicURL+"/orders/1", nil)
			r.Header.Set("Authorization", "DPoP "+e.token(nil))
			r.Header.Set("DPoP", strings.Repeat("a", 9<<10))
			return r
		}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			e.gw.Handler().ServeHTTP(w, tc.req())
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if e.upstreamSaw() != nil {
				t.Fatal("reached the upstream")
			}
		})
	}
}
