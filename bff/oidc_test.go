package bff

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/jws"
)

func openID(c *config.BFF, _ *Options) { c.Scopes = []string{"read", "openid", "profile"} }

// TestOIDCLoginShowsName: an OpenID Connect site sends a nonce, keeps the
// verified ID token and shows the user's name from it on /bff/user.
func TestOIDCLoginShowsName(t *testing.T) {
	e := newEnv(t, openID)
	var nonce string
	e.setHook(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.URL.Path == authz.PathPAR {
			body, _ := io.ReadAll(r.Body)
			q, _ := url.ParseQuery(string(body))
			nonce = q.Get("nonce")
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
	b := e.browser()
	b.login()
	if len(nonce) < 22 {
		t.Fatalf("the site sent nonce %q", nonce)
	}
	code, u, _ := b.app("GET", "/bff/user", "")
	wantStatus(t, "user", code, 200, u)
	if u["name"] != "Alice Martin" || u["preferred_username"] != "alice" || u["sub"] != "u-alice" {
		t.Fatalf("/bff/user: %v", u)
	}
	_, sess := b.session()
	if sess.IDToken == "" || strings.Contains(str(u), sess.IDToken) {
		t.Fatal("the ID token is not kept, or reaches the browser")
	}
}

// TestOIDCIDTokenRefused: the callback refuses an ID token that breaks
// one rule of OIDC Core §3.1.3.7, with a session made for none of them.
// The authorization server's answers are tampered with on the wire: its
// JWKS gains the test's key "forged" (so a re-signed token verifies and
// only the broken claim is refused) and its token response's id_token is
// replaced.
func TestOIDCIDTokenRefused(t *testing.T) {
	forger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cases := []struct {
		name   string
		mutate func(c map[string]any)
		key    *ecdsa.PrivateKey
		raw    func(orig string) string
		ok     bool
	}{
		{name: "re-signed, unchanged (control)", ok: true},
		{name: "nonce mismatch", mutate: func(c map[string]any) { c["nonce"] = "another-login" }},
		{name: "nonce missing", mutate: func(c map[string]any) { delete(c, "nonce") }},
		{name: "aud mismatch", mutate: func(c map[string]any) { c["aud"] = "another-client" }},
		{name: "azp of another client", mutate: func(c map[string]any) { c["aud"], c["azp"] = []string{testClient, "x"}, "x" }},
		{name: "iss mismatch", mutate: func(c map[string]any) { c["iss"] = "https://evil.example" }},
		{name: "bad signature (key not in the JWKS)", key: stranger},
		{name: "bad signature (bit flipped)", raw: func(orig string) string {
			i := strings.LastIndexByte(orig, '.') + 5
			c := byte('A')
			if orig[i] == 'A' {
				c = 'B'
			}
			return orig[:i] + string(c) + orig[i+1:]
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, openID)
			e.setHook(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				switch r.URL.Path {
				case authz.PathJWKS:
					addKey(t, w, r, next, &forger.PublicKey)
				case authz.PathToken:
					replaceIDToken(t, w, r, next, func(orig string) string {
						if tc.raw != nil {
							return tc.raw(orig)
						}
						key := forger
						if tc.key != nil {
							key = tc.key
						}
						return resign(t, orig, key, tc.mutate)
					})
				default:
					next.ServeHTTP(w, r)
				}
			})
			b := e.browser()
			cb := b.authorize("", "allow")
			body, resp := b.do("GET", cb.String(), nil, nil)
			if tc.ok {
				wantStatus(t, "callback", resp.StatusCode, http.StatusSeeOther, string(body))
				return
			}
			wantStatus(t, "callback", resp.StatusCode, http.StatusBadRequest, string(body))
			if !bytes.Contains(body, []byte("ID token failed verification")) {
				t.Fatalf("page: %s", body)
			}
			if sid, _ := b.session(); sid != "" {
				t.Fatal("a session cookie was set")
			}
		})
	}
}

// TestOIDCLogoutRedirect: the logout of an OpenID Connect site sends the
// browser to the issuer's end_session_endpoint with the session's ID
// token as id_token_hint, the registered post_logout_redirect_uri and a
// state (RP-Initiated Logout 1.0 §2); a plain OAuth site's stays on the
// site.
func TestOIDCLogoutRedirect(t *testing.T) {
	e := newEnv(t, openID)
	b := e.browser()
	b.login()
	_, sess := b.session()
	code, out, _ := b.app("POST", "/bff/logout", "")
	wantStatus(t, "logout", code, 200, out)
	u, err := url.Parse(str(out["redirect"]))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme+"://"+u.Host != e.as.URL || u.Path != "/end_session" {
		t.Fatalf("redirect %s is not the issuer's end_session_endpoint", u)
	}
	if q.Get("id_token_hint") != sess.IDToken || q.Get("post_logout_redirect_uri") != e.srv.URL+"/" ||
		len(q.Get("state")) < 22 || q.Get("client_id") != testClient {
		t.Fatalf("end session parameters: %v", q)
	}
	if sid, s := b.session(); sid != "" || s != nil {
		t.Fatal("the session outlived the logout")
	}
	// The browser follows it: Ward ends its login session (the hint names
	// it, so no confirmation page) and sends the browser back with state.
	_, resp := b.do("GET", u.String(), nil, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || loc != e.srv.URL+"/?state="+q.Get("state") {
		t.Fatalf("end_session answered %d, Location %q", resp.StatusCode, loc)
	}
	if body, _ := b.do("GET", e.srv.URL+"/bff/login", nil, nil); !bytes.Contains(body, []byte(`name="password"`)) {
		t.Fatalf("after the logout, a login without the password: %.300s", body)
	}

	plain := newEnv(t)
	pb := plain.browser()
	pb.login()
	_, out, _ = pb.app("POST", "/bff/logout", "")
	if out["redirect"] != "/" {
		t.Fatalf("plain OAuth site: redirect %v", out["redirect"])
	}
}

// addKey serves the JWKS with one more key, kid "forged".
func addKey(t *testing.T, w http.ResponseWriter, r *http.Request, next http.Handler, pub *ecdsa.PublicKey) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Error(err)
	}
	set.Keys = append(set.Keys, jose.JSONWebKey{Key: pub, KeyID: "forged", Algorithm: "ES256", Use: "sig"})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

// replaceIDToken serves the token response with its id_token replaced.
func replaceIDToken(t *testing.T, w http.ResponseWriter, r *http.Request, next http.Handler, f func(string) string) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	var m map[string]any
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &m) != nil || m["id_token"] == nil {
		t.Errorf("token response %d without an ID token: %s", rec.Code, rec.Body)
	}
	m["id_token"] = f(str(m["id_token"]))
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	_ = json.NewEncoder(w).Encode(m)
}

// resign returns orig's claims, changed by mutate, signed by key as kid
// "forged".
func resign(t *testing.T, orig string, key *ecdsa.PrivateKey, mutate func(map[string]any)) string {
	p, err := base64.RawURLEncoding.DecodeString(strings.Split(orig, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(p, &c); err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(c)
	}
	h, _ := jws.EncodeHeader(map[string]any{"alg": "ES256", "kid": "forged", "typ": "JWT"})
	payload, _ := json.Marshal(c)
	tok, err := jws.Sign(key, "ES256", h, payload)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
