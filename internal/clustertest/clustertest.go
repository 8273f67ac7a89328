package clustertest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/pkce"
)

// Response is a decoded answer: JSON holds a JSON body's members.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// Str returns the JSON member k as a string ("" when absent).
func (r *Response) Str(k string) string { s, _ := r.JSON[k].(string); return s }

func (r *Response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// Do sends req with hc and reads the answer; a transport error fails t.
func Do(t testing.TB, hc *http.Client, req *http.Request) *Response {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return Read(resp)
}

// Read reads and closes resp.
func Read(resp *http.Response) *Response {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &r.JSON)
	}
	return r
}

// Sender sends a request to the instance the test chose, with jar (a
// browser's cookies) when not nil.
type Sender func(req *http.Request, jar http.CookieJar) *Response

// Via is the Sender of an HTTP client bound to one instance.
func Via(t testing.TB, hc *http.Client) Sender {
	return func(req *http.Request, jar http.CookieJar) *Response {
		t.Helper()
		c := *hc
		if jar != nil {
			c.Jar = jar
		}
		return Do(t, &c, req)
	}
}

// NewSigner returns a DPoP signer with a fresh P-256 key.
func NewSigner(t testing.TB) *dpop.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := dpop.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return sg
}

// WantToken fails t unless r is 200 with an access token.
func WantToken(t testing.TB, r *Response) {
	t.Helper()
	if r.Status != http.StatusOK || r.Str("access_token") == "" {
		t.Fatalf("got %v, want a token", r)
	}
}

// WantError fails t unless r is status with the error code.
func WantError(t testing.TB, r *Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.Str("error") != code {
		t.Fatalf("got %v, want %d %s", r, status, code)
	}
}

// IsLoginPage reports whether r is Ward's login page.
func IsLoginPage(r *Response) bool {
	return r.Status == http.StatusOK && bytes.Contains(r.Body, []byte(`name="password"`))
}

// IsConsentPage reports whether r is Ward's consent page.
func IsConsentPage(r *Response) bool {
	return r.Status == http.StatusOK && bytes.Contains(r.Body, []byte(`name="decision"`))
}

// Flow holds the names a cluster test's clients use and the last server
// nonce; its methods make the requests.
type Flow struct {
	T testing.TB
	// Issuer is the URL the requests to the authorization servers go to;
	// API the gateways'.
	Issuer, API string
	// SvcClient is a confidential client_credentials client.
	SvcClient, SvcSecret string
	// WebClient is a public authorization_code client.
	WebClient, WebRedirect string
	// User signs in with Password.
	User, Password string
	// Nonce is the last DPoP-Nonce an authorization server sent.
	Nonce string
}

// PostToken posts form to /token with proof (when not empty), as SvcClient
// for client_credentials, and keeps the nonce the answer carries.
func (f *Flow) PostToken(send Sender, form url.Values, proof string) *Response {
	f.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.Issuer+authz.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if form.Get("grant_type") == string(oauth.GrantClientCredentials) {
		req.SetBasicAuth(f.SvcClient, f.SvcSecret)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	r := send(req, nil)
	if n := r.Header.Get("DPoP-Nonce"); n != "" {
		f.Nonce = n
	}
	return r
}

// TokenProof makes a proof for the token endpoint with the last nonce.
func (f *Flow) TokenProof(sg *dpop.Signer) string {
	f.T.Helper()
	var opts []dpop.ProofOption
	if f.Nonce != "" {
		opts = append(opts, dpop.WithNonce(f.Nonce))
	}
	p, err := sg.Proof(http.MethodPost, f.Issuer+authz.PathToken, opts...)
	if err != nil {
		f.T.Fatal(err)
	}
	return p
}

// Token runs a token request with a fresh proof from sg, answering one
// use_dpop_nonce challenge (RFC 9449 §8).
func (f *Flow) Token(send Sender, form url.Values, sg *dpop.Signer) *Response {
	f.T.Helper()
	r := f.PostToken(send, form, f.TokenProof(sg))
	if r.Status == http.StatusBadRequest && r.Str("error") == oauth.UseDPoPNonce {
		r = f.PostToken(send, form, f.TokenProof(sg))
	}
	return r
}

// ServiceToken gets a DPoP-bound access token for SvcClient, scope
// demo:read.
func (f *Flow) ServiceToken(send Sender, sg *dpop.Signer) string {
	f.T.Helper()
	r := f.Token(send, url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}, sg)
	WantToken(f.T, r)
	return r.Str("access_token")
}

// APIProof makes a proof for GET path at the gateways, bound to tok.
func (f *Flow) APIProof(sg *dpop.Signer, path, tok string) string {
	f.T.Helper()
	p, err := sg.Proof(http.MethodGet, f.API+path, dpop.WithAccessToken(tok))
	if err != nil {
		f.T.Fatal(err)
	}
	return p
}

// Call sends GET path to a gateway with tok and proof.
func (f *Flow) Call(send Sender, path, tok, proof string) *Response {
	f.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.API+path, nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", proof)
	return send(req, nil)
}

// Introspect asks about tok as SvcClient.
func (f *Flow) Introspect(send Sender, tok string) *Response {
	f.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.Issuer+authz.PathIntrospect, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(f.SvcClient, f.SvcSecret)
	return send(req, nil)
}

// CodeForm is a public client's token request for code (RFC 6749 §4.1.3,
// RFC 7636 §4.5).
func CodeForm(client, redirect, code, verifier string) url.Values {
	return url.Values{"grant_type": {string(oauth.GrantAuthorizationCode)}, "client_id": {client}, "code": {code},
		"code_verifier": {verifier}, "redirect_uri": {redirect}}
}

// RefreshForm is a public client's refresh request for rt (RFC 6749 §6).
func RefreshForm(client, rt string) url.Values {
	return url.Values{"grant_type": {string(oauth.GrantRefreshToken)}, "client_id": {client}, "refresh_token": {rt}}
}

// AuthorizeURL is WebClient's authorization request (scope demo:read,
// PKCE S256) and its PKCE verifier.
func (f *Flow) AuthorizeURL() (string, string) {
	f.T.Helper()
	v, err := pkce.NewVerifier()
	if err != nil {
		f.T.Fatal(err)
	}
	q := url.Values{"response_type": {"code"}, "client_id": {f.WebClient}, "redirect_uri": {f.WebRedirect},
		"scope": {"demo:read"}, "state": {"st"}, "code_challenge": {pkce.Challenge(v)}, "code_challenge_method": {"S256"}}
	return f.Issuer + authz.PathAuthorize + "?" + q.Encode(), v
}

// CodeFrom returns the code of r, the final redirect to WebRedirect.
func (f *Flow) CodeFrom(r *Response) string {
	f.T.Helper()
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, f.WebRedirect) {
		f.T.Fatalf("expected a redirect to the client, got %v", r)
	}
	u, err := url.Parse(loc)
	if err != nil {
		f.T.Fatal(err)
	}
	code := u.Query().Get("code")
	if code == "" {
		f.T.Fatalf("no code in %s", loc)
	}
	return code
}

// Browser is a user agent with one cookie jar for the issuer's name,
// whichever instance answers.
type Browser struct {
	f   *Flow
	jar http.CookieJar
}

// NewBrowser returns a browser with an empty cookie jar.
func (f *Flow) NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{f: f, jar: jar}
}

// Get fetches u, following redirects within the issuer (through send).
func (b *Browser) Get(send Sender, u string) *Response {
	b.f.T.Helper()
	for range 10 {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		r := send(req, b.jar)
		loc := r.Header.Get("Location")
		if r.Status/100 != 3 || !strings.HasPrefix(loc, b.f.Issuer+"/") {
			return r
		}
		u = loc
	}
	b.f.T.Fatal("too many redirects")
	return nil
}

// PostForm posts form to u; a redirect within the issuer is followed
// through send.
func (b *Browser) PostForm(send Sender, u string, form url.Values) *Response {
	b.f.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r := send(req, b.jar)
	if loc := r.Header.Get("Location"); r.Status/100 == 3 && strings.HasPrefix(loc, b.f.Issuer+"/") {
		return b.Get(send, loc)
	}
	return r
}

// Login submits the login form of page r as User.
func (b *Browser) Login(send Sender, r *Response) *Response {
	b.f.T.Helper()
	if !IsLoginPage(r) {
		b.f.T.Fatalf("expected the login page, got %v", r)
	}
	form := wardtest.HiddenFields(r.Body)
	form.Set("username", b.f.User)
	form.Set("password", b.f.Password)
	return b.PostForm(send, b.f.Issuer+authz.PathLogin, form)
}

// Consent allows on the consent page r.
func (b *Browser) Consent(send Sender, r *Response) *Response {
	b.f.T.Helper()
	if !IsConsentPage(r) {
		b.f.T.Fatalf("expected the consent page, got %v", r)
	}
	form := wardtest.HiddenFields(r.Body)
	form.Set("decision", "allow")
	return b.PostForm(send, b.f.Issuer+authz.PathConsent, form)
}
