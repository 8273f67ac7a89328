package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardauth/ward/authz"
)

// TestClientCredentials obtains DPoP-bound tokens from Ward's server with
// both secret styles, with and without server nonces (RFC 9449 §8): with
// nonces, the first token request is refused with use_dpop_nonce and
// retried once; the second uses the remembered nonce at once.
func TestClientCredentials(t *testing.T) {
	for _, tc := range []struct {
		name, client string
		nonces       bool
		wantFirst    int
	}{
		{"basic", "svc", false, 1},
		{"post", "post", false, 1},
		{"basic-nonce", "svc", true, 2},
		{"post-nonce", "post", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []serverOpt
			if tc.nonces {
				opts = append(opts, withNonces)
			}
			s := newServer(t, opts...)
			c := s.client(tc.client, WithScopes("read"))
			tok, err := c.ClientCredentials(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "DPoP" || tok.Expiry.IsZero() || tok.RefreshToken != "" {
				t.Fatalf("token %+v: want a DPoP token with an expiry and no refresh token", tok)
			}
			cl := decodeClaims(t, tok.AccessToken)
			cnf, _ := cl["cnf"].(map[string]any)
			if cnf["jkt"] != c.Thumbprint() || cl["client_id"] != tc.client || cl["scope"] != "read" {
				t.Fatalf("claims %v: want cnf.jkt %s", cl, c.Thumbprint())
			}
			if got := s.count(authz.PathToken); got != tc.wantFirst {
				t.Fatalf("first token: %d requests to /token, want %d", got, tc.wantFirst)
			}
			if tc.nonces && c.Transport().Nonce(s.issuer) == "" {
				t.Fatal("no nonce remembered")
			}
			if _, err := c.ClientCredentials(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := s.count(authz.PathToken); got != tc.wantFirst+1 {
				t.Fatalf("second token: %d requests to /token in all, want %d", got, tc.wantFirst+1)
			}
		})
	}
}

// TestRetrieveError: an error answer of the token endpoint is a
// *RetrieveError carrying the RFC 6749 §5.2 parameters and the response.
func TestRetrieveError(t *testing.T) {
	s := newServer(t)
	for _, tc := range []struct {
		name   string
		opts   []Option
		client string
		code   string
		status int
	}{
		{"wrong secret", []Option{WithClientSecret("wrong", AuthStyleBasic)}, "svc", "invalid_client", http.StatusUnauthorized},
		{"unknown scope", []Option{WithClientSecret(s.secrets["svc"], AuthStyleBasic), WithScopes("admin")}, "svc", "invalid_scope", http.StatusBadRequest},
		{"grant not allowed", nil, "app", "unauthorized_client", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Discover(context.Background(), s.issuer, tc.client, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.ClientCredentials(context.Background())
			var re *RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("error %v (%T): want *RetrieveError", err, err)
			}
			if re.ErrorCode != tc.code || re.Response == nil || re.Response.StatusCode != tc.status || len(re.Body) == 0 {
				t.Fatalf("RetrieveError %+v: want code %s status %d", re, tc.code, tc.status)
			}
			if !strings.Contains(re.Error(), tc.code) {
				t.Fatalf("Error() = %q: want the code in it", re.Error())
			}
		})
	}
}

// TestAuthorizeLoopback runs the native-app flow (RFC 8252) against
// Ward's server: loopback redirect on an ephemeral port, PKCE, PAR or not,
// dpop_jkt, state and iss checked; then refreshes with rotation through a
// TokenSource and checks that the refreshed token is bound to the same key.
func TestAuthorizeLoopback(t *testing.T) {
	for _, tc := range []struct {
		name   string
		par    bool
		nonces bool
	}{
		{"par", true, false},
		{"par-nonce", true, true},
		{"query", false, false},
		{"query-nonce", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []serverOpt
			if tc.nonces {
				opts = append(opts, withNonces)
			}
			s := newServer(t, opts...)
			saver := &memSaver{}
			c := s.client("app", WithScopes("read"), WithPAR(tc.par), WithBrowser(userAgent(t, "allow", nil)), WithTokenSaver(saver))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tok, err := c.AuthorizeLoopback(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.count(authz.PathPAR); (got > 0) != tc.par {
				t.Fatalf("%d PAR requests, want PAR %v", got, tc.par)
			}
			cl := decodeClaims(t, tok.AccessToken)
			cnf, _ := cl["cnf"].(map[string]any)
			if tok.TokenType != "DPoP" || tok.RefreshToken == "" || cl["sub"] != "u-alice" || cnf["jkt"] != c.Thumbprint() {
				t.Fatalf("token %+v claims %v", tok, cl)
			}
			// Refresh: the source renews the stale token once, rotating
			// the refresh token.
			stale := *tok
			stale.Expiry = time.Now().Add(10 * time.Second) // within the refresh margin
			ts := c.TokenSource(&stale)
			tok2, err := ts.TokenContext(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok2.AccessToken == tok.AccessToken || tok2.RefreshToken == tok.RefreshToken || tok2.RefreshToken == "" {
				t.Fatal("refresh did not rotate the tokens")
			}
			cl2 := decodeClaims(t, tok2.AccessToken)
			if cnf2, _ := cl2["cnf"].(map[string]any); cnf2["jkt"] != c.Thumbprint() {
				t.Fatalf("refreshed token bound to %v", cl2["cnf"])
			}
			if saver.last() != tok2 || ts.Peek() != tok2 {
				t.Fatal("the rotated token was not saved and kept")
			}
			// Fresh now: no further request.
			n := s.count(authz.PathToken)
			if tok3, _ := ts.Token(); tok3 != tok2 || s.count(authz.PathToken) != n {
				t.Fatal("a fresh token was renewed")
			}
			// The old refresh token is spent: once its successor was
			// used, presenting it again is refused (and revokes the
			// family, RFC 9700 §4.14.2). Before that, with the same key,
			// it would be a retry within tokens.refresh_token_reuse_grace.
			if _, err := c.Refresh(ctx, tok2.RefreshToken); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Refresh(ctx, tok.RefreshToken); err == nil {
				t.Fatal("old refresh token accepted")
			}
		})
	}
}

type memSaver struct {
	mu   sync.Mutex
	toks []*oauth2.Token
}

func (m *memSaver) SaveToken(t *oauth2.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.toks = append(m.toks, t)
	return nil
}

func (m *memSaver) last() *oauth2.Token {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.toks) == 0 {
		return nil
	}
	return m.toks[len(m.toks)-1]
}

// TestRefreshConcurrent: 64 goroutines ask a TokenSource with a stale
// token at once; exactly one refresh request reaches the server (Ward
// revokes the whole family if a spent refresh token is reused, so a
// second one would fail all later refreshes), and all get the same token.
func TestRefreshConcurrent(t *testing.T) {
	s := newServer(t, withNonces)
	c := s.client("app", WithScopes("read"), WithPAR(false), WithBrowser(userAgent(t, "allow", nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := c.AuthorizeLoopback(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := s.count(authz.PathToken)
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Second)
	ts := c.TokenSource(&stale)
	const n = 64
	var wg sync.WaitGroup
	got := make([]*oauth2.Token, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = ts.TokenContext(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("goroutine %d got another token", i)
		}
	}
	if d := s.count(authz.PathToken) - before; d != 1 {
		t.Fatalf("%d refresh requests, want 1", d)
	}
	// The family is intact: the rotated refresh token still works.
	if _, err := c.Refresh(ctx, got[0].RefreshToken); err != nil {
		t.Fatal(err)
	}
}

// TestAuthorizeLoopbackRefusals: the code is never redeemed when the
// redirect is forged or crossed (state, RFC 6749 §10.12), comes from
// another issuer (iss, RFC 9207 §2.4), or reports an error.
func TestAuthorizeLoopbackRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		decision string
		tamper   func(*url.URL)
		check    func(error) bool
	}{
		{"denied", "deny", nil, func(err error) bool {
			var ae *AuthorizationError
			return errors.As(err, &ae) && ae.ErrorCode == "access_denied"
		}},
		{"state changed", "allow", setQuery("state", "forged"), func(err error) bool { return errors.Is(err, ErrStateMismatch) }},
		{"state removed", "allow", setQuery("state", ""), func(err error) bool { return errors.Is(err, ErrStateMismatch) }},
		{"iss changed", "allow", setQuery("iss", "https://evil.example"), func(err error) bool { return errors.Is(err, ErrIssuerMismatch) }},
		{"iss removed", "allow", setQuery("iss", ""), func(err error) bool { return errors.Is(err, ErrIssuerMismatch) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			c := s.client("app", WithBrowser(userAgent(t, tc.decision, tc.tamper)))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := c.AuthorizeLoopback(ctx)
			if !tc.check(err) {
				t.Fatalf("error %v (%T)", err, err)
			}
			if n := s.count(authz.PathToken); n != 0 {
				t.Fatalf("%d token requests: the code must not be redeemed", n)
			}
		})
	}
}

// TestAuthorizeLoopbackAnswersTheBrowser: the browser gets the whole
// page, the failure page included, before the listener closes: the flow
// may end at once on a refused redirect (no token request), and the
// person must still read why.
func TestAuthorizeLoopbackAnswersTheBrowser(t *testing.T) {
	for _, decision := range []string{"deny", "allow"} {
		t.Run(decision, func(t *testing.T) {
			s := newServer(t)
			pages := make(chan string, 1)
			agent := userAgent(t, decision, nil, func(status int, page []byte) { pages <- fmt.Sprint(status, " ", string(page)) })
			c := s.client("app", WithBrowser(agent))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := c.AuthorizeLoopback(ctx)
			want := "200 "
			if decision == "deny" {
				want = "400 "
			}
			select {
			case page := <-pages:
				if !strings.HasPrefix(page, want) || !strings.Contains(page, "</html>") {
					t.Fatalf("flow error %v; the browser got %.200q", err, page)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the browser got no answer")
			}
		})
	}
}

// setQuery sets (or with "" deletes) a query parameter of the redirect.
func setQuery(k, v string) func(*url.URL) {
	return func(u *url.URL) {
		q := u.Query()
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
}

// TestAuthorizeLoopbackContext: the flow ends with the context when the
// user never comes back.
func TestAuthorizeLoopbackContext(t *testing.T) {
	s := newServer(t)
	c := s.client("app", WithBrowser(func(string) error { return nil }))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.AuthorizeLoopback(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v: want DeadlineExceeded", err)
	}
}

// TestDiscoverIssuerMismatch: metadata naming another issuer is refused
// (RFC 8414 §3.3).
func TestDiscoverIssuerMismatch(t *testing.T) {
	s := newServer(t)
	other := strings.Replace(s.issuer, "127.0.0.1", "localhost", 1)
	if _, err := Discover(context.Background(), other, "svc"); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("error %v: want ErrBadResponse", err)
	}
}
