package inspect

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func jws(t *testing.T, header, claims map[string]any) *JWS {
	t.Helper()
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	j, err := Parse(enc(header) + "." + enc(claims) + ".c2ln")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestIsProofByShape: a proof is recognised by typ dpop+jwt or by its
// shape (jwk in the header and htm or htu), so a wrong typ is reported as
// the proof's defect; a token with a cnf is never a proof.
func TestIsProofByShape(t *testing.T) {
	jwk := map[string]any{"kty": "EC"}
	for _, tc := range []struct {
		name           string
		header, claims map[string]any
		want           bool
	}{
		{"typed", map[string]any{"typ": "dpop+jwt"}, nil, true},
		{"typ JWT with jwk htm htu", map[string]any{"typ": "JWT", "jwk": jwk}, map[string]any{"htm": "GET", "htu": "https://x/"}, true},
		{"no typ, jwk and htu", map[string]any{"jwk": jwk}, map[string]any{"htu": "https://x/"}, true},
		{"access token", map[string]any{"typ": "at+jwt", "kid": "k"}, map[string]any{"cnf": map[string]any{"jkt": "x"}}, false},
		{"jwk without htm or htu", map[string]any{"typ": "JWT", "jwk": jwk}, map[string]any{"sub": "u"}, false},
	} {
		if got := jws(t, tc.header, tc.claims).IsProof(); got != tc.want {
			t.Errorf("%s: IsProof %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestTokenBinding: cnf.jkt and cnf.x5t#S256 are each a binding, shown;
// both at once, or neither, is refused.
func TestTokenBinding(t *testing.T) {
	for _, tc := range []struct {
		cnf  map[string]any
		ok   bool
		want string
	}{
		{map[string]any{"jkt": "J"}, true, "DPoP-bound: cnf.jkt J"},
		{map[string]any{"x5t#S256": "X"}, true, "certificate-bound (mTLS, RFC 8705 §3): cnf.x5t#S256 X"},
		{map[string]any{"jkt": "J", "x5t#S256": "X"}, false, "both"},
		{nil, false, "bearer token"},
	} {
		f := tokenBinding(tc.cnf)
		if f.OK != tc.ok || !strings.Contains(f.Text, tc.want) {
			t.Errorf("cnf %v: %+v, want ok=%v and %q", tc.cnf, f, tc.ok, tc.want)
		}
	}
}

// TestTraceShowsErrorsNotTokens: a 4xx JSON error is shown (and the body
// still readable by the caller); a 200 body is never read.
func TestTraceShowsErrorsNotTokens(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/err" {
			w.Header().Set("DPoP-Nonce", "n1")
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"use_dpop_nonce","error_description":"nonce needed"}`)
			return
		}
		io.WriteString(w, `{"access_token":"secret-token"}`)
	}))
	defer srv.Close()
	var out strings.Builder
	c := &http.Client{Transport: &Trace{W: &out}}
	for _, p := range []string{"/err", "/ok"} {
		req, _ := http.NewRequest("POST", srv.URL+p, nil)
		req.Header.Set("Authorization", "DPoP secret-token")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "_") {
			t.Fatalf("%s: body lost: %q", p, body)
		}
	}
	got := out.String()
	for _, w := range []string{"> POST " + srv.URL + "/err", "> Authorization: DPoP [12 bytes, not shown]", `< error=use_dpop_nonce error_description="nonce needed"`, "< DPoP-Nonce: n1", "asked for a nonce", "< HTTP/1.1 200 OK"} {
		if !strings.Contains(got, w) {
			t.Errorf("trace lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "secret-token") {
		t.Errorf("trace shows the token:\n%s", got)
	}
}
