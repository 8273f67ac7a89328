package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

const nextAPI = "https://next.example"

// TestTokenExchange: a private_key_jwt client exchanges a token aimed at
// it for one aimed at the next service, bound to its own DPoP key and
// naming it in act; a token aimed elsewhere is refused with the server's
// invalid_request (RFC 8693 §2.2.2).
func TestTokenExchange(t *testing.T) {
	s := newServer(t, func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "exch", TokenExchange: &config.TokenExchange{
			SubjectAudiences: []string{testAudience}, Audiences: []string{nextAPI}, Scopes: []string{"read"}}})
	})
	ak, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ak.PublicKey, KeyID: "a1", Algorithm: "ES256", Use: "sig"}}})
	if _, err := authz.CreateClient(context.Background(), s.st, &store.Client{ID: "exch", AuthMethod: oauth.AuthPrivateKeyJWT,
		JWKS: jwks, GrantTypes: []oauth.GrantType{oauth.GrantTokenExchange}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	subject, err := s.client("svc", WithResource(testAudience), WithScopes("read", "write")).ClientCredentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ex := s.client("exch", WithPrivateKeyJWT(ak, "a1"))
	tok, err := ex.TokenExchange(context.Background(), subject.AccessToken, []string{nextAPI}, "")
	if err != nil {
		t.Fatal(err)
	}
	cl := decodeClaims(t, tok.AccessToken)
	act, _ := cl["act"].(map[string]any)
	cnf, _ := cl["cnf"].(map[string]any)
	if cl["aud"] != nextAPI || cl["scope"] != "read" || act["sub"] != "exch" || cnf["jkt"] != ex.Thumbprint() || tok.TokenType != oauth.TokenTypeDPoP {
		t.Fatalf("exchanged token %v (type %s)", cl, tok.TokenType)
	}
	// The exchanged token is aimed at nextAPI, not at a service exch
	// serves: exchanging it again is refused.
	_, err = ex.TokenExchange(context.Background(), tok.AccessToken, []string{nextAPI}, "")
	var re *RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != oauth.InvalidRequest {
		t.Fatalf("a token aimed elsewhere: %v, want invalid_request", err)
	}
}

// TestTokenExchangeNoRedirect: a token endpoint answering 307 or 308
// (a misconfigured proxy, a compromised or spoofed endpoint) does not
// make the client POST the subject token and its client assertion again
// to the Location, another host; the redirect is a failed request.
func TestTokenExchangeNoRedirect(t *testing.T) {
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("subject_token") != "" || r.PostForm.Get("client_assertion") != "" {
			leaked.Add(1)
		}
	}))
	t.Cleanup(other.Close)
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/token", code)
		}))
		t.Cleanup(as.Close)
		ak, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		c, err := New(Endpoint{Issuer: as.URL, TokenURL: as.URL + "/token"}, "exch", WithPrivateKeyJWT(ak, "a1"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.TokenExchange(context.Background(), "caller-token", []string{nextAPI}, "")
		var re *RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != code {
			t.Fatalf("%d: %v, want a RetrieveError with the redirect's status", code, err)
		}
	}
	if n := leaked.Load(); n != 0 {
		t.Fatalf("the client re-sent its credentials to the redirect target %d times", n)
	}
}
