package authz

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
)

// TestNormalizeUserCode: RFC 8628 §6.1, case and dashes or spaces do not
// matter; anything else, a letter outside the alphabet, or a length other
// than 8 is refused.
func TestNormalizeUserCode(t *testing.T) {
	for in, want := range map[string]string{
		"BCDF-GHJK": "BCDFGHJK", "bcdfghjk": "BCDFGHJK", " bcdf - ghjk ": "BCDFGHJK", "bC-dF-gH-jK": "BCDFGHJK",
		"BCDF\tGHJK": "BCDFGHJK",
	} {
		if got, ok := normalizeUserCode(in); !ok || got != want {
			t.Errorf("normalizeUserCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF_GHJK", "BCDF-GHJ0", "BCDF-GHJ\u212a",
		"ＢCDF-GHJK", strings.Repeat("-", 60) + "BCDFGHJK"} {
		if got, ok := normalizeUserCode(in); ok {
			t.Errorf("normalizeUserCode(%q) = %q, accepted", in, got)
		}
	}
	for range 100 {
		c := newUserCode()
		if got, ok := normalizeUserCode(formatUserCode(c)); !ok || got != c || !userCodeRE.MatchString(formatUserCode(c)) {
			t.Fatalf("drawn code %q does not round-trip: %q %v", c, got, ok)
		}
	}
}

// FuzzNormalizeUserCode: whatever the input, an accepted code is 8
// letters of the alphabet, normalising it again gives itself, and it
// never reads past maxUserCodeInput.
func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdf ghjk", "", "----", "ABCD-EFGH", "\x00", "ÀBCD-GHJK", strings.Repeat("B", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := normalizeUserCode(in)
		if !ok {
			return
		}
		if len(in) > maxUserCodeInput || len(got) != userCodeLen {
			t.Fatalf("%q accepted as %q", in, got)
		}
		for i := 0; i < len(got); i++ {
			if !strings.Contains(userCodeAlphabet, got[i:i+1]) {
				t.Fatalf("%q accepted as %q", in, got)
			}
		}
		if again, ok := normalizeUserCode(formatUserCode(got)); !ok || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, got, again)
		}
	})
}

// FuzzDeviceAuthorizationForm: the device authorization endpoint and the
// verification page take any body and query without a panic or a 5xx;
// a 200 from /device_authorization has both codes.
func FuzzDeviceAuthorizationForm(f *testing.F) {
	h := newHarness(f, func(c *config.Config) { c.DeviceAuthorization.Enabled = true })
	for _, s := range []string{"client_id=spa", "client_id=web&scope=read", "client_id=spa&dpop_jkt=x", "resource=%zz", "user_code=BCDF-GHJK",
		"client_id=spa&scope=" + strings.Repeat("a ", 100), "flow=x&decision=allow", "csrf=&user_code=\x00"} {
		f.Add(s, "user_code=bcdf")
	}
	handler := h.s.Handler()
	f.Fuzz(func(t *testing.T, body, query string) {
		for _, path := range []string{PathDeviceAuthorization, PathDevice} {
			req := httptest.NewRequest(http.MethodPost, h.issuer+path, strings.NewReader(body))
			req.URL.RawQuery = url.PathEscape(query)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %q: %d %s", path, body, rec.Code, rec.Body)
			}
			if path == PathDeviceAuthorization && rec.Code == 200 &&
				(!strings.Contains(rec.Body.String(), `"device_code"`) || !strings.Contains(rec.Body.String(), `"user_code"`)) {
				t.Fatalf("200 without codes: %s", rec.Body)
			}
		}
		req := httptest.NewRequest(http.MethodGet, h.issuer+PathDevice, nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET /device?%q: %d", query, rec.Code)
		}
	})
}
