package bff

import (
	"bytes"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/config"
)

// FuzzRequest sends arbitrary requests to a site whose authorization
// server cannot be reached: the site never panics, never answers 500,
// never sets a session cookie and never reaches the store for a cookie
// that is not an id it made.
func FuzzRequest(f *testing.F) {
	f.Add("GET", "/bff/user", "", "1", "same-origin", "https://app.example")
	f.Add("POST", "/bff/logout", "AAAA", "1", "", "null")
	f.Add("GET", "/bff/callback?code=x&state=y&iss=z", strings.Repeat("A", 43), "", "cross-site", "")
	f.Add("GET", "/bff/login?return_to=//evil", "", "", "", "")
	f.Add("PUT", "/bff/api/a/../b?q=1", "x", "1", "same-origin", "https://app.example")
	f.Add("GET", "/bff/api", "", "1", "none", "https://app.example")
	f.Fuzz(func(t *testing.T, method, target, cookie, csrf, sfs, origin string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") || len(target) > 4096 {
			return
		}
		if method == "" || strings.ContainsAny(method, " \r\n\t()<>@,;:\\\"/[]?={}") {
			return
		}
		store := NewMemoryStore(100, nil)
		s, err := New(config.BFF{Name: "app", PublicURL: "https://app.example", ClientID: "c", API: "https://api.example"},
			Options{Issuer: "http://127.0.0.1:1", ClientSecret: "s", Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Endpoint: &client.Endpoint{Issuer: "http://127.0.0.1:1", AuthURL: "http://127.0.0.1:1/a", TokenURL: "http://127.0.0.1:1/t",
					PARURL: "http://127.0.0.1:1/p", RevocationURL: "http://127.0.0.1:1/r", IntrospectionURL: "http://127.0.0.1:1/i"}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := http.NewRequest(method, "https://app.example"+target, bytes.NewReader([]byte("body")))
		if err != nil {
			return
		}
		for k, v := range map[string]string{"X-Ward-CSRF": csrf, "Sec-Fetch-Site": sfs, "Origin": origin} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		if cookie != "" {
			r.Header.Set("Cookie", s.SessionCookie()+"="+cookie+"; "+s.flowName+"="+cookie)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
		}
		for _, c := range w.Result().Cookies() {
			if c.Name == s.SessionCookie() && c.Value != "" {
				t.Fatalf("a session cookie was set: %v", c)
			}
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatal("answer without Cache-Control: no-store")
		}
		if store.Len() > 0 && w.Code != http.StatusSeeOther {
			t.Fatalf("%d entries stored by a refused request", store.Len())
		}
	})
}

// FuzzOpen: a sealed value is opened only from the bytes seal made, under
// the key it was sealed for.
func FuzzOpen(f *testing.F) {
	s, _ := newSealer(bytes.Repeat([]byte{3}, 32))
	// Made once by seal (random nonce), fixed here so that every fuzzing
	// process knows the one value that opens.
	good, _ := hex.DecodeString("b8d4c58ecd960a516db50ffb079a1c368c3d1b8784bd3882d28752f3677ab26a84e9d209da3d825a31b9735fa622fa8958f7ca964a8438a84ebbc2e6abe2aaf9569c666f51866ddfc142fa7b7f61f339c9732adfd4850ab47556d14029a1cbaed06d9344fe459dfcedffddb8dc21018a13894f4f097bf3e29243883087a8b9790dc0da334beedc166babbfde720a52260a75228f1cc1bf2f9bd94b420e4e11d58bc5950e621a396101d87a058b33d904ac51179371b4b6d939ead7")
	var probe session
	if err := s.open("sess:k", good, &probe); err != nil || probe.Subject != "alice" {
		f.Fatalf("the fixed sealed value does not open: %v", err)
	}
	f.Add(good, "sess:k")
	f.Add([]byte{}, "")
	f.Add(good[:20], "sess:k")
	f.Fuzz(func(t *testing.T, b []byte, key string) {
		var sess session
		err := s.open(key, b, &sess)
		if err == nil && !(bytes.Equal(b, good) && key == "sess:k") {
			t.Fatalf("opened bytes seal did not make: %x under %q", b, key)
		}
	})
}
