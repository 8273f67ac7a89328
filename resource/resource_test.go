package resource_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/resource"
)

// A flood of tokens with bogus kids fetches the JWKS at most once per
// MinRefresh, however many arrive.
func TestKidFloodRateLimited(t *testing.T) {
	f := newFixture(t, nil)
	tok, auth := f.is.token(t, f.is.claims(f.cl.signer.Thumbprint())), ""
	auth = "DPoP " + tok
	if w := f.do(resource.Requirement{}, "GET", apiURL, auth, f.cl.proof(t, "GET", apiURL, tok)); w.Code != 200 {
		t.Fatalf("warm-up: %d %s", w.Code, w.Body)
	}
	before := f.is.jwksHits.Load()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := f.is.header()
			h["kid"] = fmt.Sprintf("bogus-%d", i)
			bad := craft(t, h, f.is.claims(f.cl.signer.Thumbprint()), "ES256", f.is.key)
			r := httptest.NewRequest("GET", apiURL, nil)
			r.Header.Set("Authorization", "DPoP "+bad)
			_, err := f.rs.Authenticate(r, resource.Requirement{})
			var e interface{ Error() string }
			if !errors.As(err, &e) || !strings.Contains(err.Error(), "invalid_token") {
				t.Errorf("bogus kid: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := f.is.jwksHits.Load() - before; n > 1 {
		t.Errorf("kid flood caused %d JWKS fetches, want at most 1", n)
	}
	if len(f.rejected) != 0 {
		// Authenticate itself does not report; WriteError does.
		t.Errorf("unexpected OnReject calls")
	}
}

// A key added to the issuer's JWKS (rotation) is found by the refresh an
// unknown kid triggers, once MinRefresh has passed.
func TestKeyRotationRefresh(t *testing.T) {
	now := testNow
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, func(c *resource.Config, o *[]dpop.VerifierOption) {
		c.Clock = clock
		*o = append(*o, dpop.WithClock(clock))
		c.Keys = resource.NewRemoteKeys(c.Issuer, resource.RemoteKeysOptions{Clock: clock, MinRefresh: 30 * time.Second})
	})
	tok := f.is.token(t, f.is.claims(f.cl.signer.Thumbprint()))
	if w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP "+tok, f.cl.proof(t, "GET", apiURL, tok)); w.Code != 200 {
		t.Fatalf("first: %d", w.Code)
	}
	// Rotate: the issuer now signs with k2.
	old := f.is.key
	f.is.extraKeys = []jose.JSONWebKey{{Key: &old.PublicKey, KeyID: "k1", Algorithm: "ES256"}}
	f.is.key, _ = newKey()
	f.is.kid = "k2"
	// The refresh waits for MinRefresh after the last fetch.
	mu.Lock()
	now = now.Add(31 * time.Second)
	mu.Unlock()
	c2 := newClient(t, now)
	c := f.is.claims(c2.signer.Thumbprint())
	c["iat"] = now.Unix()
	tok2 := f.is.token(t, c)
	if w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP "+tok2, c2.proof(t, "GET", apiURL, tok2)); w.Code != 200 {
		t.Fatalf("after rotation: %d %s", w.Code, w.Body)
	}
}

// countingKeys counts key look-ups, i.e. signature checks.
type countingKeys struct {
	resource.KeySource
	mu sync.Mutex
	n  int
}

func (c *countingKeys) Key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.KeySource.Key(ctx, kid)
}

// The token's signature is checked once; the proof on every request.
func TestTokenCache(t *testing.T) {
	var ck *countingKeys
	f := newFixture(t, func(c *resource.Config, o *[]dpop.VerifierOption) {
		ck = &countingKeys{KeySource: c.Keys}
		c.Keys = ck
	})
	tok := f.is.token(t, f.is.claims(f.cl.signer.Thumbprint()))
	for range 5 {
		if w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP "+tok, f.cl.proof(t, "GET", apiURL, tok)); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	if ck.n != 1 {
		t.Errorf("%d key look-ups for one token, want 1", ck.n)
	}
	// The cache does not skip the proof: a replay is still refused.
	p := f.cl.proof(t, "GET", apiURL, tok)
	f.do(resource.Requirement{}, "GET", apiURL, "DPoP "+tok, p)
	if w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP "+tok, p); w.Code != 401 {
		t.Errorf("replay through the cache: %d", w.Code)
	}
}

// A cached token stops being accepted when it expires.
func TestTokenCacheExpiry(t *testing.T) {
	now := testNow
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, func(c *resource.Config, o *[]dpop.VerifierOption) {
		c.Clock = clock
		*o = append(*o, dpop.WithClock(clock))
	})
	tok := f.is.token(t, f.is.claims(f.cl.signer.Thumbprint()))
	if w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP "+tok, f.cl.proof(t, "GET", apiURL, tok)); w.Code != 200 {
		t.Fatalf("%d", w.Code)
	}
	mu.Lock()
	now = now.Add(6 * time.Minute)
	mu.Unlock()
	s, _ := dpop.NewSigner(f.cl.key, dpop.WithClock(clock))
	p, _ := s.Proof("GET", apiURL, dpop.WithAccessToken(tok))
	w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP "+tok, p)
	if w.Code != 401 || f.rejected[len(f.rejected)-1] != resource.ReasonExpired {
		t.Errorf("expired cached token: %d %v", w.Code, f.rejected)
	}
}

type fakeIntrospector struct {
	calls int
	resp  *resource.Introspection
	err   error
}

func (fi *fakeIntrospector) Introspect(_ context.Context, _ string) (*resource.Introspection, error) {
	fi.calls++
	return fi.resp, fi.err
}

func TestIntrospection(t *testing.T) {
	fi := &fakeIntrospector{}
	f := newFixture(t, func(c *resource.Config, o *[]dpop.VerifierOption) { c.Introspector = fi })
	fi.resp = &resource.Introspection{Active: true, Issuer: f.is.url, Subject: "bob", ClientID: "svc", Scope: "orders:read",
		Audience: []string{audience}, Expiry: testNow.Add(time.Hour), JKT: f.cl.signer.Thumbprint()}
	const tok = "opaque-abc"
	for range 3 {
		if w := f.do(resource.Requirement{Scopes: []string{"orders:read"}}, "GET", apiURL, "DPoP "+tok, f.cl.proof(t, "GET", apiURL, tok)); w.Code != 200 || !strings.HasPrefix(w.Body.String(), "bob svc") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	if fi.calls != 1 {
		t.Errorf("introspected %d times, want 1 (cached)", fi.calls)
	}
	// Inactive and failing introspection.
	fi.resp = &resource.Introspection{Active: false}
	if w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP other", f.cl.proof(t, "GET", apiURL, "other")); w.Code != 401 || f.rejected[len(f.rejected)-1] != resource.ReasonInactive {
		t.Errorf("inactive: %d %v", w.Code, f.rejected)
	}
	fi.err = errors.New("boom")
	if w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP third", f.cl.proof(t, "GET", apiURL, "third")); w.Code != 503 || f.rejected[len(f.rejected)-1] != resource.ReasonIntrospectionError {
		t.Errorf("failing introspection: %d %v", w.Code, f.rejected)
	}
}

func TestRemoteIntrospector(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if id != "rs" || secret != "s3cret" || r.PostFormValue("token") != "tok" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// RFC 7662 §2.2 example, plus cnf (RFC 9449 §6.2).
		_, _ = w.Write([]byte(`{"active":true,"client_id":"l238j323ds-23ij4","username":"jdoe","scope":"read write dolphin","sub":"Z5O3upPC88QrAjx00dis","aud":"https://protected.example.net/resource","iss":"https://server.example.com/","exp":1419356238,"iat":1419350238,"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`))
	}))
	defer srv.Close()
	ri := &resource.RemoteIntrospector{Endpoint: srv.URL, ClientID: "rs", ClientSecret: "s3cret", Client: srv.Client()}
	in, err := ri.Introspect(context.Background(), "tok")
	if err != nil {
		t.Fatal(err)
	}
	if !in.Active || in.Subject != "Z5O3upPC88QrAjx00dis" || in.Expiry.Unix() != 1419356238 || in.JKT == "" || in.Audience[0] != "https://protected.example.net/resource" {
		t.Errorf("%+v", in)
	}
	if _, err := (&resource.RemoteIntrospector{Endpoint: srv.URL, ClientID: "rs", ClientSecret: "bad", Client: srv.Client()}).Introspect(context.Background(), "tok"); !errors.Is(err, resource.ErrIntrospection) {
		t.Errorf("bad credentials: %v", err)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":"https://evil.example","jwks_uri":"https://evil.example/jwks"}`))
	}))
	defer srv.Close()
	if _, err := resource.Discover(context.Background(), srv.Client(), srv.URL); !errors.Is(err, resource.ErrDiscovery) {
		t.Errorf("got %v, want ErrDiscovery", err)
	}
	// Keys unavailable → 503, not 401.
	f := newFixture(t, func(c *resource.Config, o *[]dpop.VerifierOption) {
		c.Keys = resource.NewRemoteKeys(srv.URL, resource.RemoteKeysOptions{Client: srv.Client()})
	})
	tok := f.is.token(t, f.is.claims(f.cl.signer.Thumbprint()))
	if w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP "+tok, f.cl.proof(t, "GET", apiURL, tok)); w.Code != 503 || f.rejected[0] != resource.ReasonKeysUnavailable {
		t.Errorf("%d %v", w.Code, f.rejected)
	}
}

func TestMetadataURLs(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://as.example", "https://as.example/.well-known/oauth-authorization-server"},
		{"https://as.example/tenant1", "https://as.example/.well-known/oauth-authorization-server/tenant1"},
	} {
		if got, _ := resource.MetadataURL(tt.in); got != tt.want {
			t.Errorf("MetadataURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// RFC 9728 §3.1.
	if got := resource.ResourceMetadataURL("https://resource.example.com/resource1"); got != "https://resource.example.com/.well-known/oauth-protected-resource/resource1" {
		t.Errorf("ResourceMetadataURL = %q", got)
	}
}

func TestMetadataHandler(t *testing.T) {
	f := newFixture(t, nil)
	h := resource.MetadataHandler(f.rs.Metadata([]string{"orders:read"}, false))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", resource.WellKnownPath, nil))
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["resource"] != audience || m["dpop_bound_access_tokens_required"] != true || m["authorization_servers"].([]any)[0] != f.is.url {
		t.Errorf("%s", w.Body)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	v, _ := dpop.NewVerifier()
	for _, c := range []resource.Config{
		{Audience: audience, DPoP: v},
		{Issuer: "https://as", DPoP: v},
		{Issuer: "https://as", Audience: audience},
		{Issuer: "https://as", Audience: audience, DPoP: v, Algorithms: []string{"HS256"}},
		{Issuer: "https://as", Audience: audience, DPoP: v, Algorithms: []string{"none"}},
		{Issuer: "https://as", Audience: audience, DPoP: v, Leeway: time.Hour},
	} {
		if _, err := resource.New(c); !errors.Is(err, resource.ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", c, err)
		}
	}
}

func TestIdentityFromEmpty(t *testing.T) {
	if _, ok := resource.IdentityFrom(context.Background()); ok {
		t.Error("identity from an empty context")
	}
}

// downReplay is a DPoP replay store that cannot be reached.
type downReplay struct{}

func (downReplay) Use(context.Context, string, string, time.Time) error {
	return errors.New("replay store unreachable")
}

// TestReplayStoreDownIs503: a proof that cannot be checked for replay is
// the server's failure: 503 temporarily_unavailable with Retry-After, as
// at the authorization server (dpop.ProtocolError), never 401.
func TestReplayStoreDownIs503(t *testing.T) {
	f := newFixture(t, func(_ *resource.Config, o *[]dpop.VerifierOption) {
		*o = append(*o, dpop.WithReplayStore(downReplay{}))
	})
	tok := f.is.token(t, f.is.claims(f.cl.signer.Thumbprint()))
	w := f.do(resource.Requirement{}, "GET", apiURL, "DPoP "+tok, f.cl.proof(t, "GET", apiURL, tok))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "temporarily_unavailable") {
		t.Fatalf("%d, Retry-After %q: %s; want 503 temporarily_unavailable with Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
}
