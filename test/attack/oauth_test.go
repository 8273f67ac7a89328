package attack

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/pkce"
)

// browserGet fetches u with jar, following redirects within the issuer.
func browserGet(t *testing.T, u string, jar http.CookieJar) *response {
	t.Helper()
	for range 10 {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		r := doJar(t, req, jar)
		loc := r.header.Get("Location")
		if r.status/100 != 3 || !strings.HasPrefix(loc, ward.asURL+"/") {
			return r
		}
		u = loc
	}
	t.Fatal("too many redirects")
	return nil
}

func browserPost(t *testing.T, u string, form url.Values, jar http.CookieJar) *response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r := doJar(t, req, jar)
	if loc := r.header.Get("Location"); r.status/100 == 3 && strings.HasPrefix(loc, ward.asURL+"/") {
		return browserGet(t, loc, jar)
	}
	return r
}

func doJar(t *testing.T, req *http.Request, jar http.CookieJar) *response {
	t.Helper()
	hc := *ward.client
	hc.Jar = jar
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &r.json)
	}
	return r
}

func authorizeQuery(v string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {webClient}, "redirect_uri": {webRedirect},
		"scope": {"demo:read"}, "state": {"st"}, "code_challenge": {pkce.Challenge(v)}, "code_challenge_method": {"S256"}}
}

// login runs alice's login (and consent) for q and returns the code.
func login(t *testing.T, q url.Values) string {
	t.Helper()
	return loginRedirect(t, q).Query().Get("code")
}

// loginRedirect runs alice's login (and consent) for q and returns the
// redirect to the client, which carries a code.
func loginRedirect(t *testing.T, q url.Values) *url.URL {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	r := browserGet(t, ward.asURL+authz.PathAuthorize+"?"+q.Encode(), jar)
	if !(r.status == http.StatusOK && bytes.Contains(r.body, []byte(`name="password"`))) {
		t.Fatalf("expected the login page, got %v", r)
	}
	f := wardtest.HiddenFields(r.body)
	f.Set("username", userName)
	f.Set("password", userPass)
	r = browserPost(t, ward.asURL+authz.PathLogin, f, jar)
	if r.status == http.StatusOK && bytes.Contains(r.body, []byte(`name="decision"`)) {
		f = wardtest.HiddenFields(r.body)
		f.Set("decision", "allow")
		r = browserPost(t, ward.asURL+authz.PathConsent, f, jar)
	}
	loc := r.header.Get("Location")
	u, err := url.Parse(loc)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, webRedirect) || err != nil || u.Query().Get("code") == "" {
		t.Fatalf("expected a redirect to the client with a code, got %d", r.status)
	}
	return u
}

func wantTokenError(t *testing.T, r *response, status int, code string) {
	t.Helper()
	// Only the status and the error code are printed: a body may hold a
	// token, and tokens are never logged.
	if r.status != status || r.str("error") != code {
		t.Errorf("got %d %q, want %d %s", r.status, r.str("error"), status, code)
	}
	if bytes.Contains(r.body, []byte("access_token")) || bytes.Contains(r.body, []byte("refresh_token")) {
		t.Errorf("a token was issued (status %d)", r.status)
	}
}

func TestOAuthAttacks(t *testing.T) {
	t.Run("password grant", func(t *testing.T) {
		sg, err := newSigner(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		r, err := tokenRequest(svcClient, url.Values{"grant_type": {"password"}, "username": {userName}, "password": {userPass}, "scope": {"demo:read"}}, sg)
		if err != nil {
			t.Fatal(err)
		}
		wantTokenError(t, r, http.StatusBadRequest, "unsupported_grant_type")
	})
	t.Run("password grant as a public client", func(t *testing.T) {
		sg, err := newSigner(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		r, err := tokenRequest("", url.Values{"grant_type": {"password"}, "client_id": {webClient}, "username": {userName}, "password": {userPass}}, sg)
		if err != nil {
			t.Fatal(err)
		}
		wantTokenError(t, r, http.StatusBadRequest, "unsupported_grant_type")
	})

	// Errors after the redirect URI is verified go back to the client,
	// never with a token or a code.
	redirectErr := func(name string, edit func(q url.Values), code string) {
		t.Run(name, func(t *testing.T) {
			v, _ := pkce.NewVerifier()
			q := authorizeQuery(v)
			edit(q)
			jar, _ := cookiejar.New(nil)
			r := browserGet(t, ward.asURL+authz.PathAuthorize+"?"+q.Encode(), jar)
			loc := r.header.Get("Location")
			u, err := url.Parse(loc)
			if r.status/100 != 3 || err != nil || !strings.HasPrefix(loc, webRedirect+"?") {
				t.Fatalf("got %v (Location %q), want a redirect to the registered URI with an error", r, loc)
			}
			got := u.Query()
			if got.Get("error") != code || got.Get("state") != "st" || got.Get("iss") != ward.asURL {
				t.Errorf("redirect %s: want error=%s, state=st, iss=%s", loc, code, ward.asURL)
			}
			if got.Get("code") != "" || u.Fragment != "" || strings.Contains(loc, "access_token") {
				t.Errorf("redirect %s carries a code or a token", loc)
			}
		})
	}
	redirectErr("response_type token (implicit)", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type")
	redirectErr("PKCE missing", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request")
	redirectErr("PKCE plain", func(q url.Values) {
		q.Set("code_challenge", "a-plain-verifier-that-is-long-enough-to-pass-43-chars")
		q.Set("code_challenge_method", "plain")
	}, "invalid_request")

	// Before the redirect URI is verified, an error is a page of the
	// server: no redirect at all (no open redirector).
	errorPage := func(name, redirect string) {
		t.Run(name, func(t *testing.T) {
			v, _ := pkce.NewVerifier()
			q := authorizeQuery(v)
			q.Set("redirect_uri", redirect)
			jar, _ := cookiejar.New(nil)
			r := browserGet(t, ward.asURL+authz.PathAuthorize+"?"+q.Encode(), jar)
			if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
				t.Fatalf("got %d Location %q, want the 400 error page and no redirect", r.status, r.header.Get("Location"))
			}
			if !bytes.Contains(r.body, []byte("invalid_request")) && !bytes.Contains(r.body, []byte("redirect_uri")) {
				t.Errorf("the error page does not name the problem: %s", r.body)
			}
		})
	}
	errorPage("redirect_uri of another host", "http://evil.example/cb")
	errorPage("redirect_uri with an added path", webRedirect+"/evil")
	errorPage("redirect_uri with an added query", webRedirect+"?next=http://evil.example")
	errorPage("redirect_uri of a look-alike host", "http://127.0.0.1.evil.example/cb")

	t.Run("code replay", func(t *testing.T) {
		v, _ := pkce.NewVerifier()
		code := login(t, authorizeQuery(v))
		sg, err := newSigner(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "client_id": {webClient}, "code_verifier": {v}}
		r, err := tokenRequest("", form, sg)
		if err != nil || r.status != http.StatusOK || r.str("access_token") == "" {
			t.Fatalf("first exchange: %v %v", r, err)
		}
		r, err = tokenRequest("", form, sg)
		if err != nil {
			t.Fatal(err)
		}
		wantTokenError(t, r, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("code exchanged without the PKCE verifier", func(t *testing.T) {
		v, _ := pkce.NewVerifier()
		code := login(t, authorizeQuery(v))
		sg, _ := newSigner(time.Now())
		r, err := tokenRequest("", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "client_id": {webClient}}, sg)
		if err != nil {
			t.Fatal(err)
		}
		wantTokenError(t, r, http.StatusBadRequest, "invalid_request")
	})
}
