package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAPI sends an authorised operator's arbitrary calls (method, path
// under the admin API, form body) to the pages' routes: never a panic,
// never a 500, never a change without a POST.
func FuzzAPI(f *testing.F) {
	for _, s := range [][3]string{
		{"GET", "/clients", ""}, {"POST", "/clients", "id=x&auth_method=none&grant_type=authorization_code&redirect_uris=https://a/cb"},
		{"POST", "/clients/ward-console/rotate", ""}, {"GET", "/users?q=%ff", ""}, {"POST", "/users", "username=%00"},
		{"POST", "/users/u-bob/role", "grant=1"}, {"GET", "/grants?user=bob&client=x", ""}, {"POST", "/grants/x/revoke", "back=%zz"},
		{"POST", "/sessions/u-bob/abc/end", ""}, {"DELETE", "/clients/x", ""}, {"GET", "/clients/%2e%2e", ""}, {"POST", "/keys/rotate", strings.Repeat("a=b&", 100)},
	} {
		f.Add(s[0], s[1], s[2])
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if method == "POST" && strings.HasPrefix(path, "/keys/rotate") {
			return // a key per input would grow the store without bound
		}
		req, err := http.NewRequest(method, "http://x"+e.con.api.base+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req = req.WithContext(contextWith(req.Context(), Operator{Subject: "u-alice", Username: "alice"}))
		w := httptest.NewRecorder()
		e.con.api.mux.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %.300s", method, path, body, w.Code, w.Body.String())
		}
	})
}
