package authz

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"github.com/wardauth/ward/oauth"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/password"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// clock is an injectable clock tests advance by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	testPassword = "correct horse battery staple"
	testAPI      = "https://api.example"
	webRedirect  = "https://app.example/cb"
	spaRedirect  = "http://127.0.0.1/cb"
)

type harness struct {
	rlStore           ratelimit.Store // nil: in memory
	t                 testing.TB
	s                 *Server
	st                store.Store
	path              string // SQLite file
	kek               keys.KEK
	srv               *httptest.Server
	issuer            string
	clk               *clock
	cfg               *config.Config
	log               *wardtest.SyncBuffer
	secrets           map[string]string
	jwtKey            *ecdsa.PrivateKey // private_key_jwt client's key
	replay            dpop.ReplayStore  // nil: the server's default
	assertionsInStore bool              // Options.AssertionJTIsInStore
	events            *secevent.Emitter // nil: no security events
	blocks            *block.Blocker    // nil: no blocking
}

type harnessOpt func(*config.Config)

// newHarness starts the server over TLS (so cookies get __Host- and
// Secure) on a SQLite file, with these clients:
//
//	web      client_secret_basic, every grant, redirect https://app.example/cb
//	post     client_secret_post, every grant
//	spa      public, loopback redirect http://127.0.0.1/cb
//	svc      client_secret_post, client_credentials only
//	bearer   client_secret_basic, sender constraint bearer (opt-out)
//	mtls     client_secret_basic, sender constraint mtls
//	jwt      private_key_jwt
//	paronly  public, require_par
func newHarness(t testing.TB, opts ...harnessOpt) *harness {
	t.Helper()
	return newHarnessRateLimitStore(t, nil, opts...)
}

// newHarnessRateLimitStore is newHarness with the rate limits and the
// failed-client-authentication allowance kept in rl (nil: in memory).
func newHarnessRateLimitStore(t testing.TB, rl ratelimit.Store, opts ...harnessOpt) *harness {
	t.Helper()
	ctx := context.Background()
	// The clock starts at the real time: store methods that take no time
	// (UseOnce, AccessTokenRevoked) read the store's own clock.
	h := &harness{t: t, clk: &clock{t: time.Now().UTC().Truncate(time.Second)}, log: &wardtest.SyncBuffer{}, secrets: map[string]string{}, rlStore: rl}
	h.path = filepath.Join(t.TempDir(), "ward.db")
	st, err := sqlstore.OpenSQLite(ctx, h.path)
	if err != nil {
		t.Fatal(err)
	}
	h.st = st
	t.Cleanup(func() { h.st.Close() })
	if _, err := rand.Read(h.kek[:]); err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewUnstartedServer(http.NotFoundHandler())
	h.issuer = "https://" + h.srv.Listener.Addr().String()
	cfg := config.Default()
	cfg.Issuer = h.issuer
	cfg.DPoP.Nonce.Secret = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	for _, o := range opts {
		o(cfg)
	}
	h.cfg = cfg
	h.seed()
	h.s = h.newServer()
	h.srv.Config.Handler = h.s.Handler()
	h.srv.StartTLS()
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) newServer() *Server {
	h.t.Helper()
	km, err := keys.New(h.st, []keys.KEK{h.kek}, keys.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := km.EnsureKey(context.Background(), h.clk.Now()); err != nil {
		h.t.Fatal(err)
	}
	s, err := New(h.cfg, Options{
		Store:          h.st,
		RateLimitStore: h.rlStore,
		Keys:           km,
		Logger:         slog.New(slog.NewTextHandler(h.log, nil)),
		Now:            h.clk.Now,
		Replay:         h.replay,
		Events:         h.events,
		Blocks:         h.blocks,

		AssertionJTIsInStore: h.assertionsInStore,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// reopen closes the SQLite store, opens the file again and replaces the
// server, as a restart would.
func (h *harness) reopen() {
	h.t.Helper()
	if err := h.st.Close(); err != nil {
		h.t.Fatal(err)
	}
	st, err := sqlstore.OpenSQLite(context.Background(), h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	h.st = st
	h.s = h.newServer()
	h.srv.Config.Handler = h.s.Handler()
}

func (h *harness) seed() {
	ctx := context.Background()
	all := []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials}
	mk := func(c store.Client) {
		c.Scopes = []string{"read", "write", oauth.ScopeOpenID, oauth.ScopeProfile, oauth.ScopeEmail}
		c.Audiences = []string{testAPI, "https://other.example"}
		if c.GrantTypes == nil {
			c.GrantTypes = all
		}
		if c.RedirectURIs == nil {
			c.RedirectURIs = []string{webRedirect}
		}
		cc := c
		secret, err := CreateClient(ctx, h.st, &cc, h.clk.Now())
		if err != nil {
			h.t.Fatal(err)
		}
		h.secrets[c.ID] = secret
	}
	mk(store.Client{ID: "web", Name: "Web App", AuthMethod: oauth.AuthSecretBasic})
	mk(store.Client{ID: "post", AuthMethod: oauth.AuthSecretPost})
	mk(store.Client{ID: "spa", AuthMethod: oauth.AuthNone, RedirectURIs: []string{spaRedirect}, GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}})
	mk(store.Client{ID: "svc", AuthMethod: oauth.AuthSecretPost, GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}})
	mk(store.Client{ID: "bearer", AuthMethod: oauth.AuthSecretBasic, SenderConstraint: store.ConstraintBearer})
	mk(store.Client{ID: "mtls", AuthMethod: oauth.AuthSecretBasic, SenderConstraint: store.ConstraintMTLS})
	mk(store.Client{ID: "paronly", AuthMethod: oauth.AuthNone, RedirectURIs: []string{spaRedirect}, RequirePAR: true, GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode}})
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	h.jwtKey = k
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	mk(store.Client{ID: "jwt", AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: set})
	ph, err := password.Hash(testPassword)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.CreateUser(ctx, &store.User{Subject: "u-alice", Username: "alice", PasswordHash: ph, CreatedAt: h.clk.Now()}); err != nil {
		h.t.Fatal(err)
	}
}

// newSigner makes a DPoP signer on the harness clock.
func (h *harness) newSigner() *dpop.Signer {
	h.t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	s, err := dpop.NewSigner(k, dpop.WithClock(h.clk.Now))
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) proof(s *dpop.Signer, opts ...dpop.ProofOption) string {
	h.t.Helper()
	p, err := s.Proof(http.MethodPost, h.issuer+PathToken, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// response is a decoded HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r *response) str(k string) string { s, _ := r.json[k].(string); return s }

// post sends a form to an endpoint with optional headers (key, value
// pairs) and decodes a JSON answer.
func (h *harness) post(path string, form url.Values, hdr ...string) *response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return h.do(h.srv.Client(), req)
}

func (h *harness) do(c *http.Client, req *http.Request) *response {
	h.t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &r.json)
	}
	return r
}

// basic returns the Authorization header pair for a client.
func (h *harness) basic(id string) []string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(h.secrets[id]))
	return []string{"Authorization", req.Header.Get("Authorization")}
}

// browser is a user agent with a cookie jar that follows redirects
// within the server and stops at the first one leaving it.
type browser struct {
	h *harness
	c *http.Client
}

func (h *harness) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	c := *h.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{h: h, c: &c}
}

// get fetches a URL; a redirect within the issuer is followed, one
// elsewhere is returned as the final response.
func (b *browser) get(u string) *response {
	b.h.t.Helper()
	for range 10 {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		r := b.h.do(b.c, req)
		loc := r.header.Get("Location")
		if r.status/100 != 3 || !strings.HasPrefix(loc, b.h.issuer+"/") {
			return r
		}
		u = loc
	}
	b.h.t.Fatal("too many redirects")
	return nil
}

func (b *browser) postForm(u string, form url.Values) *response {
	b.h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r := b.h.do(b.c, req)
	if loc := r.header.Get("Location"); r.status/100 == 3 && strings.HasPrefix(loc, b.h.issuer+"/") {
		return b.get(loc)
	}
	return r
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)

// hidden returns the hidden fields of a page's form.
func hidden(body []byte) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllSubmatch(body, -1) {
		v.Set(string(m[1]), htmlUnescape(string(m[2])))
	}
	return v
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&lt;", "<", "&gt;", ">", "&#39;", "'").Replace(s)
}

// login submits the login form shown by r.
func (b *browser) login(r *response, user, pw string) *response {
	b.h.t.Helper()
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`name="password"`)) {
		b.h.t.Fatalf("expected the login page, got %d %s %s", r.status, r.header.Get("Location"), r.body)
	}
	f := hidden(r.body)
	f.Set("username", user)
	f.Set("password", pw)
	return b.postForm(b.h.issuer+PathLogin, f)
}

// consent submits the consent form shown by r.
func (b *browser) consent(r *response, decision string) *response {
	b.h.t.Helper()
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`name="decision"`)) {
		b.h.t.Fatalf("expected the consent page, got %d %s %s", r.status, r.header.Get("Location"), r.body)
	}
	f := hidden(r.body)
	f.Set("decision", decision)
	return b.postForm(b.h.issuer+PathConsent, f)
}

// authorize runs a whole browser flow for params and returns the final
// redirect's query.
func (h *harness) authorize(b *browser, params url.Values) url.Values {
	h.t.Helper()
	r := b.get(h.issuer + PathAuthorize + "?" + params.Encode())
	if bytes.Contains(r.body, []byte(`name="password"`)) {
		r = b.login(r, "alice", testPassword)
	}
	if bytes.Contains(r.body, []byte(`name="decision"`)) {
		r = b.consent(r, "allow")
	}
	return redirectQuery(h.t, r)
}

func redirectQuery(t testing.TB, r *response) url.Values {
	t.Helper()
	if r.status != http.StatusSeeOther {
		t.Fatalf("expected a redirect to the client, got %d: %s", r.status, r.body)
	}
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// authParams are the parameters of a valid authorization request.
func authParams(clientID, redirect, challenge string) url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {redirect},
		"scope":                 {"read write"},
		"state":                 {"st-" + clientID},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
}

// decodeJWT returns the header and claims of a compact JWS without
// verifying it.
func decodeJWT(t testing.TB, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok)
	}
	var hdr, cl map[string]any
	for i, out := range []*map[string]any{&hdr, &cl} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
	return hdr, cl
}

type (
	configT = config.Config
	storeT  = store.Store
)

func (c *countingStore) PutCode(ctx context.Context, x *store.AuthCode) error {
	c.writes.Add(1)
	return c.storeT.PutCode(ctx, x)
}
func (c *countingStore) RedeemCode(ctx context.Context, h []byte, f *store.Family, rt *store.RefreshToken, now time.Time) error {
	c.writes.Add(1)
	return c.storeT.RedeemCode(ctx, h, f, rt, now)
}
func (c *countingStore) CreateFamily(ctx context.Context, f *store.Family, rt *store.RefreshToken) error {
	c.writes.Add(1)
	return c.storeT.CreateFamily(ctx, f, rt)
}
func (c *countingStore) RotateRefreshToken(ctx context.Context, h []byte, n *store.RefreshToken, now time.Time) (*store.Family, error) {
	c.writes.Add(1)
	return c.storeT.RotateRefreshToken(ctx, h, n, now)
}
func (c *countingStore) RotateRefreshTokenGrace(ctx context.Context, h []byte, n *store.RefreshToken, now time.Time, grace time.Duration) (*store.Family, bool, error) {
	c.writes.Add(1)
	return c.storeT.RotateRefreshTokenGrace(ctx, h, n, now, grace)
}
func (c *countingStore) UseOnce(ctx context.Context, k string, exp, now time.Time) error {
	c.writes.Add(1)
	return c.storeT.UseOnce(ctx, k, exp, now)
}
func (c *countingStore) RevokeAccessToken(ctx context.Context, jti string, exp, now time.Time) error {
	c.writes.Add(1)
	return c.storeT.RevokeAccessToken(ctx, jti, exp, now)
}
func (c *countingStore) PutSession(ctx context.Context, s *store.Session) error {
	c.writes.Add(1)
	return c.storeT.PutSession(ctx, s)
}
