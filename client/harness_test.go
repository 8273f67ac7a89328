package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/wardauth/ward/oauth"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/authztest"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/store"
)

const (
	testPassword = "correct horse battery staple"
	testAudience = "https://api.example"
)

// server is Ward's authorization server running in-process on a loopback
// port with plain HTTP (a dev-style http issuer), seeded with:
//
//	svc  confidential, client_secret_basic, client_credentials
//	post confidential, client_secret_post, client_credentials
//	app  public, authorization_code + refresh_token, redirect
//	     http://127.0.0.1/callback (any port)
//	user alice
type server struct {
	t       testing.TB
	srv     *httptest.Server
	issuer  string
	secrets map[string]string
	st      store.Store
	// requests counts requests per path.
	mu       sync.Mutex
	requests map[string]int
}

type serverOpt func(*config.Config)

func withNonces(c *config.Config) { c.DPoP.Nonce.Enabled = true }

func newServer(t testing.TB, opts ...serverOpt) *server {
	t.Helper()
	s := &server{t: t, requests: map[string]int{}}
	cl := func(id string, method oauth.AuthMethod, grants []oauth.GrantType, redirect string) store.Client {
		return store.Client{ID: id, AuthMethod: method, GrantTypes: grants, RedirectURIs: []string{redirect},
			Scopes: []string{"read", "write"}, Audiences: []string{testAudience}}
	}
	as := authztest.New(t, authztest.Options{
		Clients: []store.Client{
			cl("svc", oauth.AuthSecretBasic, []oauth.GrantType{oauth.GrantClientCredentials}, "https://unused.example/cb"),
			cl("post", oauth.AuthSecretPost, []oauth.GrantType{oauth.GrantClientCredentials}, "https://unused.example/cb"),
			cl("app", oauth.AuthNone, []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, "http://127.0.0.1/callback"),
		},
		Users: []authztest.User{{Subject: "u-alice", Username: "alice", Password: testPassword}},
		Config: func(c *config.Config) {
			for _, o := range opts {
				o(c)
			}
		},
		Wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s.mu.Lock()
				s.requests[r.URL.Path]++
				s.mu.Unlock()
				h.ServeHTTP(w, r)
			})
		},
	})
	s.srv, s.issuer, s.secrets, s.st = as.HTTP, as.URL, as.Secrets, as.Store
	return s
}

func (s *server) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// client discovers the server and returns a Client for id.
func (s *server) client(id string, opts ...Option) *Client {
	s.t.Helper()
	if sec := s.secrets[id]; sec != "" && id != "app" {
		style := AuthStyleBasic
		if id == "post" {
			style = AuthStylePost
		}
		opts = append([]Option{WithClientSecret(sec, style)}, opts...)
	}
	c, err := Discover(context.Background(), s.issuer, id, opts...)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// userAgent returns a browser stand-in for WithBrowser: it follows the
// authorization URL, logs in as alice, consents (decision allow or deny),
// and follows the final redirect to the loopback listener. tamper, when
// set, may rewrite the redirect URL first; each of after gets the
// loopback listener's answer (status and body, or -1 and the error).
func userAgent(t testing.TB, decision string, tamper func(*url.URL), after ...func(int, []byte)) func(string) error {
	return func(authURL string) error {
		final, err := wardtest.BrowserLogin(authURL, "alice", testPassword, decision)
		if err != nil {
			return err
		}
		if tamper != nil {
			tamper(final)
		}
		// The redirect goes to the loopback listener, as a browser would.
		go func() {
			status, page := -1, []byte(nil)
			resp, err := http.Get(final.String())
			if err == nil {
				page, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
			if err != nil {
				page = []byte(err.Error())
			}
			for _, f := range after {
				f(status, page)
			}
		}()
		return nil
	}
}

// decodeClaims returns the payload of a compact JWS without verifying it.
func decodeClaims(t testing.TB, jws string) map[string]any {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", jws)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
