package client

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/wardauth/ward/internal/jws"
)

// The ID token forger of these tests: any header and claims, signed by
// any key with internal/jws (the signer of Ward's own tokens).

const (
	fIssuer = "https://ward.example"
	fClient = "app"
	fNonce  = "n-0S6_WzA2Mj"
	fAT     = "an-access-token"
)

var fNow = time.Unix(1_800_000_000, 0)

type forger struct {
	ec, other *ecdsa.PrivateKey
	rsa       *rsa.PrivateKey
}

func newForger(t testing.TB) *forger {
	t.Helper()
	f := &forger{}
	var err error
	if f.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if f.other, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if f.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	return f
}

// keys is the issuer's JWKS: the EC key "ec" and the RSA key "rs".
func (f *forger) keys() StaticKeySet {
	return StaticKeySet{Keys: []jose.JSONWebKey{
		{Key: f.ec.Public(), KeyID: "ec", Algorithm: "ES256", Use: "sig"},
		{Key: f.rsa.Public(), KeyID: "rs", Algorithm: "RS256", Use: "sig"},
	}}
}

func (f *forger) verifier(opts ...VerifierOption) *IDTokenVerifier {
	return NewIDTokenVerifier(fIssuer, fClient, f.keys(), append([]VerifierOption{WithIDTokenClock(func() time.Time { return fNow })}, opts...)...)
}

// claims are those of a valid ID token for fClient answering fNonce.
func validClaims() map[string]any {
	return map[string]any{
		"iss": fIssuer, "sub": "alice", "aud": fClient, "exp": fNow.Add(5 * time.Minute).Unix(), "iat": fNow.Unix(),
		"auth_time": fNow.Add(-time.Minute).Unix(), "nonce": fNonce, "azp": fClient, "sid": "s1",
		"at_hash": AtHash(fAT, sha256.New), "acr": "urn:ward:pwd", "amr": []string{"pwd"}, "name": "Alice Martin",
	}
}

func (f *forger) sign(t testing.TB, key crypto.Signer, header map[string]any, claims map[string]any) string {
	t.Helper()
	h, err := jws.EncodeHeader(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.Sign(key, header["alg"].(string), h, p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// valid returns a valid ES256 ID token after mutating its claims.
func (f *forger) token(t testing.TB, mutate func(h, c map[string]any)) string {
	h := map[string]any{"alg": "ES256", "kid": "ec", "typ": "JWT"}
	c := validClaims()
	if mutate != nil {
		mutate(h, c)
	}
	key := crypto.Signer(f.ec)
	switch {
	case h["kid"] == "rs":
		key = f.rsa
	case h["kid"] == "forged":
		key, h["kid"] = f.other, "ec"
	}
	return f.sign(t, key, h, c)
}

func TestIDTokenValid(t *testing.T) {
	f := newForger(t)
	for _, kid := range []string{"ec", "rs"} {
		raw := f.token(t, func(h, c map[string]any) {
			if kid == "rs" {
				h["alg"], h["kid"] = "RS256", "rs"
			}
		})
		idt, err := f.verifier().Verify(context.Background(), raw, Expect{Nonce: fNonce, AccessToken: fAT, RequireAtHash: true, MaxAge: 5 * time.Minute})
		if err != nil {
			t.Fatalf("%s: %v", kid, err)
		}
		if idt.Subject != "alice" || idt.Name != "Alice Martin" || idt.SessionID != "s1" || idt.Nonce != fNonce ||
			idt.AuthTime.Unix() != fNow.Unix()-60 || len(idt.AMR) != 1 || idt.Claims["acr"] != "urn:ward:pwd" || idt.Raw != raw {
			t.Errorf("%s: claims %+v", kid, idt)
		}
	}
}

// TestIDTokenRules breaks one rule of OpenID Connect Core §3.1.3.7 per
// case; each must be refused with the rule's reason.
func TestIDTokenRules(t *testing.T) {
	f := newForger(t)
	cases := []struct {
		name   string
		mutate func(h, c map[string]any)
		raw    func(string) string
		expect func(*Expect)
		opts   []VerifierOption
		want   string
	}{
		{name: "signature by another key", mutate: func(h, c map[string]any) { h["kid"] = "forged" }, want: "signature does not verify"},
		{name: "tampered payload", raw: func(s string) string {
			p := strings.Split(s, ".")
			c := validClaims()
			c["sub"] = "mallory"
			b, _ := json.Marshal(c)
			return p[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + p[2]
		}, want: "signature does not verify"},
		{name: "unknown kid", mutate: func(h, c map[string]any) { h["kid"] = "nope" }, want: "signature does not verify"},
		{name: "alg none", raw: func(s string) string {
			h, _ := jws.EncodeHeader(map[string]any{"alg": "none", "kid": "ec"})
			return h + "." + strings.Split(s, ".")[1] + "."
		}, want: `algorithm "none" is not accepted`},
		{name: "alg off the allow-list", mutate: func(h, c map[string]any) { h["alg"], h["kid"] = "RS256", "rs" }, opts: []VerifierOption{WithIDTokenAlgs("ES256")}, want: `algorithm "RS256" is not accepted`},
		{name: "alg unlike the key's", raw: func(string) string {
			return f.sign(t, f.rsa, map[string]any{"alg": "PS256", "kid": "rs"}, validClaims())
		}, opts: []VerifierOption{WithIDTokenAlgs("ES256", "RS256", "PS256")}, want: "signature does not verify"},
		{name: "typ at+jwt", mutate: func(h, c map[string]any) { h["typ"] = "at+jwt" }, want: `typ "at+jwt"`},
		{name: "typ logout+jwt", mutate: func(h, c map[string]any) { h["typ"] = "logout+jwt" }, want: `typ "logout+jwt"`},
		{name: "crit", mutate: func(h, c map[string]any) { h["crit"] = []string{"exp"} }, want: "critical"},
		{name: "iss other", mutate: func(h, c map[string]any) { c["iss"] = "https://evil.example" }, want: "iss"},
		{name: "iss trailing slash", mutate: func(h, c map[string]any) { c["iss"] = fIssuer + "/" }, want: "iss"},
		{name: "no sub", mutate: func(h, c map[string]any) { delete(c, "sub") }, want: "sub missing"},
		{name: "aud other client", mutate: func(h, c map[string]any) { c["aud"], c["azp"] = "other", "other" }, want: "aud does not name"},
		{name: "aud missing", mutate: func(h, c map[string]any) { delete(c, "aud") }, want: "aud is missing"},
		{name: "several aud without azp", mutate: func(h, c map[string]any) { c["aud"] = []string{fClient, "other"}; delete(c, "azp") }, want: "no azp"},
		{name: "azp other", mutate: func(h, c map[string]any) { c["aud"], c["azp"] = []string{fClient, "other"}, "other" }, want: `azp "other"`},
		{name: "expired", mutate: func(h, c map[string]any) { c["exp"] = fNow.Add(-2 * time.Minute).Unix() }, want: "expired"},
		{name: "no exp", mutate: func(h, c map[string]any) { delete(c, "exp") }, want: "exp and iat"},
		{name: "iat in the future", mutate: func(h, c map[string]any) { c["iat"] = fNow.Add(10 * time.Minute).Unix() }, want: "future"},
		{name: "nonce missing", mutate: func(h, c map[string]any) { delete(c, "nonce") }, want: "nonce missing"},
		{name: "nonce tampered", mutate: func(h, c map[string]any) { c["nonce"] = fNonce + "x" }, want: "nonce does not match"},
		{name: "at_hash of another token", mutate: func(h, c map[string]any) { c["at_hash"] = AtHash("other", sha256.New) }, want: "at_hash does not match"},
		{name: "at_hash missing when required", mutate: func(h, c map[string]any) { delete(c, "at_hash") }, expect: func(e *Expect) { e.RequireAtHash = true }, want: "at_hash missing"},
		{name: "max_age without auth_time", mutate: func(h, c map[string]any) { delete(c, "auth_time") }, want: "auth_time is missing"},
		{name: "auth_time older than max_age", mutate: func(h, c map[string]any) { c["auth_time"] = fNow.Add(-time.Hour).Unix() }, want: "older than max_age"},
		{name: "max_age=0 and an old login", expect: func(e *Expect) { e.MaxAge = MaxAgeZero }, mutate: func(h, c map[string]any) { c["auth_time"] = fNow.Add(-2 * time.Minute).Unix() }, want: "older than max_age"},
		{name: "a logout token", mutate: func(h, c map[string]any) {
			c["events"] = map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}
		}, want: "logout token"},
		{name: "case variant claim", mutate: func(h, c map[string]any) { c["Nonce"] = "x" }, want: "case"},
		{name: "duplicate claim", raw: func(s string) string {
			h, _ := jws.EncodeHeader(map[string]any{"alg": "ES256", "kid": "ec"})
			p := `{"iss":"` + fIssuer + `","sub":"alice","sub":"mallory"}`
			tok, _ := jws.Sign(f.ec, "ES256", h, []byte(p))
			return tok
		}, want: "duplicate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := f.token(t, tc.mutate)
			if tc.raw != nil {
				raw = tc.raw(raw)
			}
			e := Expect{Nonce: fNonce, AccessToken: fAT, MaxAge: 10 * time.Minute}
			if tc.expect != nil {
				tc.expect(&e)
			}
			_, err := f.verifier(tc.opts...).Verify(context.Background(), raw, e)
			if !errors.Is(err, ErrIDToken) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrIDToken with %q", err, tc.want)
			}
		})
	}
}

// TestIDTokenLeeway: exp and iat are allowed the leeway, no more.
func TestIDTokenLeeway(t *testing.T) {
	f := newForger(t)
	raw := f.token(t, func(h, c map[string]any) { c["exp"] = fNow.Add(-30 * time.Second).Unix() })
	if _, err := f.verifier().Verify(context.Background(), raw, Expect{}); err != nil {
		t.Fatalf("expired 30 s ago, leeway 1 min: %v", err)
	}
	if _, err := f.verifier(WithIDTokenLeeway(10*time.Second)).Verify(context.Background(), raw, Expect{}); err == nil {
		t.Fatal("expired 30 s ago, leeway 10 s: accepted")
	}
}

// TestExchangeRedirectChecksIDToken: an authentication request with
// openid carries a fresh nonce, and the token response's ID token must
// answer it (and the access token's at_hash) before the token is given.
func TestExchangeRedirectChecksIDToken(t *testing.T) {
	f := newForger(t)
	var idToken func(nonce string) string
	var sent url.Values
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet(f.keys()))
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": fAT, "token_type": "DPoP", "expires_in": 300, "id_token": idToken(sent.Get("nonce")), "x_extra": "kept"})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := New(Endpoint{Issuer: fIssuer, AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token", JWKSURI: srv.URL + "/jwks"}, fClient,
		WithScopes("openid", "profile"), WithClock(func() time.Time { return fNow }), WithMaxClockSkew(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		token func(nonce string) string
		want  string
	}{
		{"valid", func(n string) string { return f.token(t, func(h, c map[string]any) { c["nonce"] = n }) }, ""},
		{"nonce of another request", func(n string) string { return f.token(t, nil) }, "nonce does not match"},
		{"no nonce", func(n string) string { return f.token(t, func(h, c map[string]any) { delete(c, "nonce") }) }, "nonce missing"},
		{"at_hash of another token", func(n string) string {
			return f.token(t, func(h, c map[string]any) { c["nonce"], c["at_hash"] = n, AtHash("x", sha256.New) })
		}, "at_hash"},
		{"no id_token", func(string) string { return "" }, "has no id_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ar, err := c.AuthCodeRequest(context.Background(), "http://127.0.0.1/callback")
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(ar.URL)
			sent = u.Query()
			if ar.Nonce == "" || sent.Get("nonce") != ar.Nonce {
				t.Fatalf("nonce sent %q, kept %q", sent.Get("nonce"), ar.Nonce)
			}
			idToken = tc.token
			tok, err := c.ExchangeRedirect(context.Background(), ar, url.Values{"code": {"c"}, "state": {ar.State}})
			if tc.want != "" {
				if !errors.Is(err, ErrIDToken) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			idt, ok := IDTokenOf(tok)
			if !ok || idt.Subject != "alice" || tok.Extra("id_token") == nil || tok.Extra("x_extra") != "kept" {
				t.Fatalf("IDTokenOf: %v %+v", ok, idt)
			}
		})
	}
}

// TestNoNonceWithoutOpenID: a plain OAuth request sends no nonce and
// needs no ID token.
func TestNoNonceWithoutOpenID(t *testing.T) {
	c, err := New(Endpoint{Issuer: fIssuer, AuthURL: "https://ward.example/authorize", TokenURL: "https://ward.example/token"}, fClient, WithScopes("read"))
	if err != nil {
		t.Fatal(err)
	}
	ar, err := c.AuthCodeRequest(context.Background(), "http://127.0.0.1/callback")
	if err != nil {
		t.Fatal(err)
	}
	if ar.Nonce != "" || strings.Contains(ar.URL, "nonce=") {
		t.Fatalf("nonce without openid: %s", ar.URL)
	}
}

func TestMaxAgeAndPromptSent(t *testing.T) {
	c, err := New(Endpoint{Issuer: fIssuer, AuthURL: "https://ward.example/authorize", TokenURL: "https://ward.example/token"}, fClient,
		WithScopes("openid"), WithMaxAge(0), WithPrompt("login"))
	if err != nil {
		t.Fatal(err)
	}
	ar, err := c.AuthCodeRequest(context.Background(), "http://127.0.0.1/callback")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(ar.URL)
	if q := u.Query(); q.Get("max_age") != "0" || q.Get("prompt") != "login" || ar.MaxAge != MaxAgeZero {
		t.Fatalf("%s %v", ar.URL, ar.MaxAge)
	}
}

func TestEndSessionURL(t *testing.T) {
	got := BuildEndSessionURL("https://ward.example/end_session", "app", "ey.x.y", "https://app.example/", "st")
	u, _ := url.Parse(got)
	q := u.Query()
	if u.Path != "/end_session" || q.Get("id_token_hint") != "ey.x.y" || q.Get("post_logout_redirect_uri") != "https://app.example/" ||
		q.Get("state") != "st" || q.Get("client_id") != "app" {
		t.Fatal(got)
	}
}

// FuzzVerifyIDToken: whatever the input, Verify never panics, and what it
// accepts is signed by the issuer's key, names the issuer and the client,
// and carries the nonce sent.
func FuzzVerifyIDToken(f *testing.F) {
	fg := newForger(f)
	f.Add(fg.token(f, nil))
	f.Add(fg.token(f, func(h, c map[string]any) { h["alg"], h["kid"] = "RS256", "rs" }))
	f.Add(fg.token(f, func(h, c map[string]any) { c["aud"] = []string{fClient, "x"} }))
	f.Add(fg.token(f, func(h, c map[string]any) { c["exp"] = 1e300 }))
	f.Add(fg.token(f, func(h, c map[string]any) { c["nonce"] = nil }))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add("")
	v := fg.verifier()
	f.Fuzz(func(t *testing.T, raw string) {
		idt, err := v.Verify(context.Background(), raw, Expect{Nonce: fNonce, AccessToken: fAT})
		if err != nil {
			if !errors.Is(err, ErrIDToken) {
				t.Fatalf("error does not wrap ErrIDToken: %v", err)
			}
			return
		}
		if idt.Issuer != fIssuer || !contains(idt.Audience, fClient) || idt.Nonce != fNonce || idt.Subject == "" {
			t.Fatalf("accepted %+v", idt)
		}
	})
}

// TestUserInfoSubject: a UserInfo answer about another user than the ID
// token's is refused (OIDC Core §5.3.2: token substitution); the same
// answer with the right sub is returned, and the request carried the
// DPoP-bound token with a proof.
func TestUserInfoSubject(t *testing.T) {
	sub := "mallory"
	var auth, proof string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, proof = r.Header.Get("Authorization"), r.Header.Get("DPoP")
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"sub": sub, "name": "Alice Martin"})
	}))
	defer srv.Close()
	c, err := New(Endpoint{Issuer: fIssuer, TokenURL: srv.URL + "/token", UserInfoURL: srv.URL + "/userinfo"}, fClient)
	if err != nil {
		t.Fatal(err)
	}
	tok := &oauth2.Token{AccessToken: fAT, TokenType: "DPoP", Expiry: time.Now().Add(time.Hour)}
	idt := &IDToken{Subject: "alice"}
	if _, err := c.UserInfo(context.Background(), tok, idt); !errors.Is(err, ErrUserInfoSubject) {
		t.Fatalf("another user's claims: %v", err)
	}
	sub = "alice"
	got, err := c.UserInfo(context.Background(), tok, idt)
	if err != nil || got["name"] != "Alice Martin" || auth != "DPoP "+fAT || proof == "" {
		t.Fatalf("%v %v auth %q proof %q", got, err, auth, proof)
	}
}

// TestDiscoverOpenID: a client that asks for openid reads OpenID Connect
// Discovery first, and the endpoint carries jwks_uri, userinfo and
// end_session; without openid, RFC 8414 comes first as before.
func TestDiscoverOpenID(t *testing.T) {
	var order []string
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		order = append(order, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "token_endpoint": srv.URL + "/token", "jwks_uri": srv.URL + "/jwks",
			"userinfo_endpoint": srv.URL + "/userinfo", "end_session_endpoint": srv.URL + "/end_session"})
	}))
	defer srv.Close()
	ep, err := DiscoverEndpoint(context.Background(), srv.URL, WithScopes("openid"))
	if err != nil {
		t.Fatal(err)
	}
	if order[0] != "/.well-known/openid-configuration" || ep.JWKSURI != srv.URL+"/jwks" || ep.UserInfoURL != srv.URL+"/userinfo" || ep.EndSessionURL != srv.URL+"/end_session" {
		t.Fatalf("order %v endpoint %+v", order, ep)
	}
	order = nil
	if _, err := DiscoverEndpoint(context.Background(), srv.URL); err != nil || order[0] != "/.well-known/oauth-authorization-server" {
		t.Fatalf("without openid: %v %v", order, err)
	}
}

// BenchmarkIDTokenVerify: the cost of one ID token check (strictjson
// reads, one signature verification, the claim rules) with a static key
// set, per algorithm.
func BenchmarkIDTokenVerify(b *testing.B) {
	f := newForger(b)
	v := f.verifier()
	for _, alg := range []string{"ES256", "RS256"} {
		raw := f.token(b, func(h, c map[string]any) {
			if alg == "RS256" {
				h["alg"], h["kid"] = "RS256", "rs"
			}
		})
		b.Run(alg, func(b *testing.B) {
			for b.Loop() {
				if _, err := v.Verify(context.Background(), raw, Expect{Nonce: fNonce, AccessToken: fAT}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestIDTokenAlgsFromDiscovery: a client takes the ID token algorithms
// the issuer advertises (an EdDSA issuer's ID tokens verify), never none
// or HMAC among them; with none advertised, ES256 and RS256.
func TestIDTokenAlgsFromDiscovery(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "ed", Algorithm: "EdDSA", Use: "sig"}}})
	}))
	defer srv.Close()
	f := newForger(t)
	raw := f.sign(t, priv, map[string]any{"alg": "EdDSA", "kid": "ed", "typ": "JWT"}, validClaims())
	for _, tc := range []struct {
		algs []string
		ok   bool
	}{{[]string{"EdDSA", "none", "HS256"}, true}, {nil, false}, {[]string{"ES256", "HS256"}, false}} {
		c, err := New(Endpoint{Issuer: fIssuer, TokenURL: srv.URL, JWKSURI: srv.URL, IDTokenAlgs: tc.algs}, fClient,
			WithClock(func() time.Time { return fNow }))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.IDTokenVerifier().Verify(context.Background(), raw, Expect{Nonce: fNonce})
		if (err == nil) != tc.ok {
			t.Errorf("advertised %v: %v", tc.algs, err)
		}
	}
	// HMAC with the JWKS as the secret is never accepted, advertised or not.
	hs := f.sign(t, f.ec, map[string]any{"alg": "ES256", "kid": "ec"}, validClaims())
	hs = strings.Replace(hs, strings.Split(hs, ".")[0], base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"ed"}`)), 1)
	c, _ := New(Endpoint{Issuer: fIssuer, TokenURL: srv.URL, JWKSURI: srv.URL, IDTokenAlgs: []string{"HS256", "EdDSA"}}, fClient)
	if _, err := c.IDTokenVerifier().Verify(context.Background(), hs, Expect{}); err == nil || !strings.Contains(err.Error(), `"HS256" is not accepted`) {
		t.Fatalf("HS256: %v", err)
	}
}
