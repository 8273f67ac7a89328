package authz

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The endpoint fuzz targets drive the real handler (Server.Handler, in
// process) with arbitrary form bodies and Authorization and DPoP headers.
// For every input: no panic, no 5xx, and nothing issued to a request that
// did not authenticate. The harness's client secrets and keys are random
// per run and appear in no seed, so no input authenticates a confidential
// client; a public client may push a PAR request or revoke with its
// client_id alone (RFC 9126 §2, RFC 7009 §2.1).

// endpointFuzzer is one harness shared by a fuzz target's inputs.
type endpointFuzzer struct {
	h    *harness
	path string
}

func newEndpointFuzzer(f *testing.F, path string) *endpointFuzzer {
	h := newHarness(f)
	e := &endpointFuzzer{h: h, path: path}
	sg := h.newSigner()
	proof := h.proof(sg)
	wrong := "Basic " + basicValue("web", "not-the-secret")
	for _, s := range []struct{ body, auth, dpop string }{
		{"grant_type=client_credentials&scope=read", wrong, proof},
		{"grant_type=client_credentials&client_id=svc&client_secret=guess", "", proof},
		{"grant_type=authorization_code&client_id=spa&code=abc&code_verifier=" + strings.Repeat("a", 43) + "&redirect_uri=" + url.QueryEscape(spaRedirect), "", proof},
		{"grant_type=refresh_token&client_id=spa&refresh_token=rt", "", proof},
		{"client_id=jwt&client_assertion_type=" + url.QueryEscape(assertionType) + "&client_assertion=a.b.c", "", ""},
		{"response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape(spaRedirect) + "&code_challenge=" + strings.Repeat("A", 43) + "&code_challenge_method=S256", "", ""},
		{"token=abc&token_type_hint=refresh_token", wrong, ""},
		{"token=abc&client_id=spa", "", ""},
		{"a=1&a=2", "DPoP x", "x.y.z"},
		{"%zz", "Bearer", ""},
		{"", "", ""},
	} {
		f.Add(s.body, s.auth, s.dpop)
	}
	return e
}

func basicValue(id, secret string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// serve sends one POST and checks the shared invariants; it returns nil
// for an input no HTTP server would receive.
func (e *endpointFuzzer) serve(t *testing.T, body, auth, proof string) *httptest.ResponseRecorder {
	if !httpguts.ValidHeaderFieldValue(auth) || !httpguts.ValidHeaderFieldValue(proof) {
		return nil
	}
	req := httptest.NewRequest(http.MethodPost, e.h.issuer+e.path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { defer close(done); e.h.s.Handler().ServeHTTP(w, req) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not answer within 5 s", e.path)
	}
	if w.Code >= 500 {
		t.Fatalf("%s answered %d: %s", e.path, w.Code, w.Body.Bytes())
	}
	return w
}

// publicClientOf is the client_id of a body (or Basic user) when it names
// one of the harness's public clients.
func publicClientOf(body, auth string) bool {
	p, err := parseParams(body)
	id := ""
	if err == nil {
		id = p.Get("client_id")
	}
	if u, _, ok := (&http.Request{Header: http.Header{"Authorization": {auth}}}).BasicAuth(); ok && id == "" {
		id, _ = url.QueryUnescape(u)
	}
	return id == "spa" || id == "paronly"
}

func FuzzTokenEndpoint(f *testing.F) {
	e := newEndpointFuzzer(f, PathToken)
	f.Fuzz(func(t *testing.T, body, auth, proof string) {
		w := e.serve(t, body, auth, proof)
		if w == nil {
			return
		}
		if w.Code == http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"access_token"`)) {
			t.Fatalf("a token was issued to an unauthenticated request: %d", w.Code)
		}
	})
}

func FuzzPAREndpoint(f *testing.F) {
	e := newEndpointFuzzer(f, PathPAR)
	f.Fuzz(func(t *testing.T, body, auth, proof string) {
		w := e.serve(t, body, auth, proof)
		if w == nil {
			return
		}
		if bytes.Contains(w.Body.Bytes(), []byte(`"request_uri"`)) && !publicClientOf(body, auth) {
			t.Fatalf("a request_uri was issued to an unauthenticated confidential client: %d %s", w.Code, w.Body.Bytes())
		}
	})
}

func FuzzIntrospectEndpoint(f *testing.F) {
	e := newEndpointFuzzer(f, PathIntrospect)
	f.Fuzz(func(t *testing.T, body, auth, proof string) {
		w := e.serve(t, body, auth, proof)
		if w == nil {
			return
		}
		var out struct {
			Active bool `json:"active"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &out)
		if w.Code == http.StatusOK || out.Active {
			t.Fatalf("introspection answered an unauthenticated caller: %d %s", w.Code, w.Body.Bytes())
		}
	})
}

func FuzzRevokeEndpoint(f *testing.F) {
	e := newEndpointFuzzer(f, PathRevoke)
	f.Fuzz(func(t *testing.T, body, auth, proof string) {
		w := e.serve(t, body, auth, proof)
		if w == nil {
			return
		}
		if w.Code == http.StatusOK && !publicClientOf(body, auth) {
			t.Fatalf("revocation accepted from an unauthenticated confidential client: %s", w.Body.Bytes())
		}
	})
}

// FuzzAuthorizeEndpoint sends GET /authorize with an arbitrary query and
// no session. For every input: no panic, no 5xx, never a code, and a
// redirect only to the server's own pages or to a registered redirect URI
// (no open redirector, RFC 9700 §4.11).
func FuzzAuthorizeEndpoint(f *testing.F) {
	h := newHarness(f)
	for _, q := range []string{
		authParams("web", webRedirect, strings.Repeat("A", 43)).Encode(),
		"response_type=code&client_id=spa&redirect_uri=" + url.QueryEscape("http://127.0.0.1:8080/cb") + "&code_challenge=" + strings.Repeat("A", 43) + "&code_challenge_method=S256&state=s",
		"response_type=token&client_id=web&redirect_uri=" + url.QueryEscape(webRedirect),
		"client_id=web&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
		"request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax&client_id=paronly",
		"response_type=code&client_id=web&prompt=none&redirect_uri=" + url.QueryEscape(webRedirect),
		"",
		// A signed request object of the jwt client (RFC 9101), and one
		// by reference.
		url.Values{"client_id": {"jwt"}, "request": {h.ro(strings.Repeat("A", 43), nil)}}.Encode(),
		"client_id=web&request_uri=https%3A%2F%2Fevil.example%2Fr.jwt",
	} {
		f.Add(q)
	}
	registered := []string{webRedirect, spaRedirect}
	f.Fuzz(func(t *testing.T, query string) {
		// Only what a server could receive in a request target: no
		// controls, spaces, DEL or fragment (a crasher of this target, kept
		// as a seed, was "\v": httptest refuses it before the server).
		if strings.ContainsFunc(query, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' }) {
			return
		}
		if _, err := url.ParseRequestURI(PathAuthorize + "?" + query); err != nil {
			return
		}
		req := httptest.NewRequest(http.MethodGet, h.issuer+PathAuthorize+"?"+query, nil)
		w := httptest.NewRecorder()
		h.s.Handler().ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("answered %d", w.Code)
		}
		loc := w.Header().Get("Location")
		if loc == "" {
			return
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("unparsable Location %q", loc)
		}
		if u.Query().Get("code") != "" {
			t.Fatalf("a code without a session: %s", loc)
		}
		own := (u.Scheme == "" && u.Host == "" && strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//")) || strings.HasPrefix(loc, h.issuer+"/")
		base := *u
		base.RawQuery, base.Fragment = "", ""
		if !own && !matchRedirectURI(registered, base.String(), true) {
			t.Fatalf("redirect to an unregistered URI: %s", loc)
		}
	})
}
