package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"github.com/wardauth/ward/oauth"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/demo"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/revocation"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// clock is the one clock of the system (authorization server, gateway,
// DPoP signers); tests advance it by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Clients of the system.
const (
	serviceClient = "svc"       // confidential, client_credentials, audience = the gateway
	otherClient   = "other-svc" // confidential, client_credentials, audience = otherAudience
	otherAudience = "https://other.example"
	adminScope    = "demo:admin" // required by the /demo/admin route; no client may get it
)

// upstreamSeen is what the upstream received on one request.
type upstreamSeen struct {
	method, path string
	header       http.Header
}

// system is the authorization server and the gateway on loopback
// listeners, over a SQLite store in a temporary folder, sharing one
// injected clock. The gateway discovers the issuer's JWKS over HTTP, as
// in production.
type system struct {
	t        *testing.T
	clk      *clock
	st       store.Store
	as       *authz.Server
	km       *keys.Manager // the authorization server's keys
	asURL    string        // the issuer
	gwURL    string        // the gateway's public URL and the service client's audience
	adminURL string
	gw       *gateway.Gateway
	revoked  *revocation.Set // the gateway's revocation feed, as ward serve wires it
	log      *wardtest.SyncBuffer
	secrets  map[string]string
	client   *http.Client

	hits atomic.Int64 // requests that reached the upstream
	mu   sync.Mutex
	seen []upstreamSeen

	nonce           string // the last DPoP-Nonce from the token endpoint
	nonceChallenges int    // use_dpop_nonce answers received
}

func newSystem(t *testing.T, opts ...func(*config.Config)) *system {
	t.Helper()
	ctx := context.Background()
	s := &system{
		t: t, log: &wardtest.SyncBuffer{}, secrets: map[string]string{},
		// Store methods that take no time read the store's own clock, so
		// the injected clock starts at the real time.
		clk:    &clock{t: time.Now().UTC().Truncate(time.Second)},
		client: &http.Client{Timeout: 10 * time.Second},
	}
	logger := slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()

	st, err := sqlstore.OpenSQLite(ctx, dir+"/ward.db")
	if err != nil {
		t.Fatal(err)
	}
	s.st = st
	t.Cleanup(func() { st.Close() })

	// Listeners first: the issuer and the gateway's public URL are the
	// addresses clients really use.
	asSrv := httptest.NewUnstartedServer(nil)
	gwSrv := httptest.NewUnstartedServer(nil)
	admSrv := httptest.NewUnstartedServer(nil)
	s.asURL = "http://" + asSrv.Listener.Addr().String()
	s.gwURL = "http://" + gwSrv.Listener.Addr().String()
	s.adminURL = "http://" + admSrv.Listener.Addr().String()

	cfg := config.Dev(dir)
	cfg.Issuer = s.asURL
	cfg.Listen = asSrv.Listener.Addr().String()
	cfg.DPoP.Nonce.Enabled = true
	cfg.Gateway = s.gatewayConfig(gwSrv.Listener.Addr().String(), admSrv.Listener.Addr().String())
	for _, o := range opts {
		o(cfg)
	}
	if err := cfg.ValidateGateway(); err != nil {
		t.Fatalf("gateway configuration: %v", err)
	}

	var kek keys.KEK
	if _, err := rand.Read(kek[:]); err != nil {
		t.Fatal(err)
	}
	km, err := keys.New(st, []keys.KEK{kek}, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.EnsureKey(ctx, s.clk.Now()); err != nil {
		t.Fatal(err)
	}
	s.km = km
	s.seed(ctx)
	nonceSecret := make([]byte, 32)
	if _, err := rand.Read(nonceSecret); err != nil {
		t.Fatal(err)
	}
	// The revocation feed from the store, woken by every revocation.
	wake := revocation.NewWakeups()
	s.revoked = revocation.NewSet(revocation.SetOptions{})
	feed := &revocation.Follower{Source: revocation.Store{Log: st, MaxTokenLifetime: config.MaxAccessTokenTTL},
		Set: s.revoked, Wake: wake.C(), Logger: logger}
	if err := feed.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	s.as, err = authz.New(cfg, authz.Options{Store: revocation.Watch(st, wake.Wake), Keys: km, Logger: logger, Now: s.clk.Now, NonceSecret: nonceSecret})
	if err != nil {
		t.Fatal(err)
	}
	asSrv.Config.Handler = s.as.Handler()
	asSrv.Start()
	t.Cleanup(asSrv.Close)

	// The upstream: the demo API, wrapped to count and record what
	// reaches it.
	demoAPI := demo.Upstream()
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		s.seen = append(s.seen, upstreamSeen{method: r.Method, path: r.URL.Path, header: r.Header.Clone()})
		s.mu.Unlock()
		demoAPI.ServeHTTP(w, r)
	})
	s.gw, err = gateway.New(&cfg.Gateway, gateway.Options{
		Issuer:      cfg.GatewayIssuer(),
		Logger:      logger,
		Clock:       s.clk.Now,
		Upstreams:   map[string]http.Handler{config.BuiltinDemo: upstream},
		Revocations: s.revoked,
	})
	if err != nil {
		t.Fatal(err)
	}
	gwCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- s.gw.Serve(gwCtx, gwSrv.Listener, admSrv.Listener) }()
	go func() { done <- feed.Run(gwCtx) }()
	t.Cleanup(func() {
		stop()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("gateway Serve: %v", err)
			}
		}
	})
	return s
}

// gatewayConfig: /demo/public is open; /demo/admin needs a scope no
// client has; /demo/ lets any authenticated client GET, and POST with
// demo:write.
func (s *system) gatewayConfig(listen, admin string) config.Gateway {
	g := config.DefaultGateway()
	g.Enabled = true
	g.Listen, g.AdminListen = listen, admin
	g.PublicURL = s.gwURL
	g.Routes = []config.Route{
		{Name: "demo-public", PathPrefix: "/demo/public", Upstream: config.BuiltinDemo, Unauthenticated: true},
		{Name: "demo-admin", PathPrefix: "/demo/admin", Upstream: config.BuiltinDemo, Scopes: []string{adminScope},
			Policy: []config.PolicyRule{{Name: "any", Action: "allow", Principals: []string{"*"}}}},
		{Name: "demo", PathPrefix: "/demo/", Upstream: config.BuiltinDemo, Policy: []config.PolicyRule{
			{Name: "read", Action: "allow", Principals: []string{"*"}, Methods: []string{"GET"}},
			{Name: "write", Action: "allow", Principals: []string{"*"}, Methods: []string{"POST"}, Scopes: []string{"demo:write"}},
		}},
	}
	return g
}

func (s *system) seed(ctx context.Context) {
	s.t.Helper()
	for _, c := range []store.Client{
		{ID: serviceClient, Name: "E2E service", AuthMethod: oauth.AuthSecretBasic,
			GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, Scopes: []string{"demo:read", "demo:write"},
			Audiences: []string{s.gwURL}, SenderConstraint: store.ConstraintDPoP},
		{ID: otherClient, Name: "E2E service for another API", AuthMethod: oauth.AuthSecretBasic,
			GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials}, Scopes: []string{"demo:read"},
			Audiences: []string{otherAudience}, SenderConstraint: store.ConstraintDPoP},
	} {
		secret, err := authz.CreateClient(ctx, s.st, &c, s.clk.Now())
		if err != nil {
			s.t.Fatal(err)
		}
		s.secrets[c.ID] = secret
	}
}

// newSigner returns a DPoP signer with a new P-256 key on the system clock
// shifted by skew.
func (s *system) newSigner(skew time.Duration) (*dpop.Signer, *ecdsa.PrivateKey) {
	s.t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.signerFor(k, skew), k
}

func (s *system) signerFor(k *ecdsa.PrivateKey, skew time.Duration) *dpop.Signer {
	s.t.Helper()
	sg, err := dpop.NewSigner(k, dpop.WithClock(func() time.Time { return s.clk.Now().Add(skew) }))
	if err != nil {
		s.t.Fatal(err)
	}
	return sg
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
}

// token runs the client_credentials grant for clientID with a DPoP proof
// from sg and returns the DPoP-bound access token.
func (s *system) token(sg *dpop.Signer, clientID, scope string) string {
	s.t.Helper()
	tok, challenges := clientCredentials(s.t, s.client, s.asURL+authz.PathToken, clientID, s.secrets[clientID], scope, sg, &s.nonce)
	s.nonceChallenges += challenges
	return tok
}

// clientCredentials runs the client_credentials grant with
// client_secret_basic and a DPoP proof from sg, sending *nonce when set
// and retrying once with the server's nonce on use_dpop_nonce (RFC 9449
// §8). It returns the access token and how many use_dpop_nonce answers
// it got; *nonce keeps the last DPoP-Nonce received.
func clientCredentials(t *testing.T, hc *http.Client, tokenURL, clientID, secret, scope string, sg *dpop.Signer, nonce *string) (string, int) {
	t.Helper()
	challenges := 0
	for attempt := 0; attempt < 2; attempt++ {
		var opts []dpop.ProofOption
		if *nonce != "" {
			opts = append(opts, dpop.WithNonce(*nonce))
		}
		p, err := sg.Proof(http.MethodPost, tokenURL, opts...)
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
		req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
		req.Header.Set("DPoP", p)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var tr tokenResponse
		if err := json.Unmarshal(body, &tr); err != nil {
			t.Fatalf("token endpoint: %d %s", resp.StatusCode, body)
		}
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			*nonce = n
		}
		if resp.StatusCode == http.StatusBadRequest && tr.Error == "use_dpop_nonce" && attempt == 0 {
			challenges++
			continue
		}
		if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
			t.Fatalf("token endpoint: %d %s", resp.StatusCode, body)
		}
		if tr.TokenType != "DPoP" {
			t.Fatalf("token_type %q, want DPoP", tr.TokenType)
		}
		return tr.AccessToken, challenges
	}
	t.Fatal("the token endpoint asked for a nonce twice")
	return "", challenges
}

// proof makes a proof for a gateway request, bound to tok when not empty.
func (s *system) proof(sg *dpop.Signer, method, path, tok string) string {
	s.t.Helper()
	var opts []dpop.ProofOption
	if tok != "" {
		opts = append(opts, dpop.WithAccessToken(tok))
	}
	p, err := sg.Proof(method, s.gwURL+path, opts...)
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

// response is a decoded gateway answer.
type response struct {
	status    int
	header    http.Header
	body      []byte
	errorCode string // "error" of the JSON body
}

// challengeParam returns a parameter of the DPoP WWW-Authenticate
// challenge.
func (r *response) challengeParam(name string) string {
	for _, c := range r.header.Values("WWW-Authenticate") {
		if !strings.HasPrefix(c, "DPoP ") {
			continue
		}
		m := regexp.MustCompile(`(?:^DPoP |, )` + regexp.QuoteMeta(name) + `="([^"]*)"`).FindStringSubmatch(c)
		if m != nil {
			return m[1]
		}
	}
	return ""
}

// do sends a request to the gateway: authz is the whole Authorization
// value, proof the DPoP header (both optional), hdr extra headers.
func (s *system) do(method, path, authz, proof string, hdr http.Header) *response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.gwURL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &response{status: resp.StatusCode, header: resp.Header, body: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			r.errorCode, _ = m["error"].(string)
		}
	}
	return r
}

// call sends an authenticated request with a fresh proof.
func (s *system) call(sg *dpop.Signer, method, path, tok string, hdr http.Header) *response {
	s.t.Helper()
	return s.do(method, path, "DPoP "+tok, s.proof(sg, method, path, tok), hdr)
}

// lastSeen returns what the upstream received last.
func (s *system) lastSeen() upstreamSeen {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		s.t.Fatal("the upstream was never reached")
	}
	return s.seen[len(s.seen)-1]
}

// metrics returns the admin listener's Prometheus text.
func (s *system) metrics() string {
	s.t.Helper()
	resp, err := s.client.Get(s.adminURL + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("metrics: %d", resp.StatusCode)
	}
	return string(b)
}

var rejectionRE = regexp.MustCompile(`(?m)^ward_gateway_rejections_total\{error="([^"]*)",reason="([^"]*)"\} (\S+)$`)

// rejections returns ward_gateway_rejections_total by "error/reason".
func (s *system) rejections() map[string]float64 {
	s.t.Helper()
	out := map[string]float64{}
	for _, m := range rejectionRE.FindAllStringSubmatch(s.metrics(), -1) {
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			s.t.Fatal(err)
		}
		out[m[1]+"/"+m[2]] = v
	}
	return out
}

// asKID returns the kid of the authorization server's signing key, from
// a token it issued.
func asKID(t *testing.T, tok string) string {
	t.Helper()
	hdr, _ := decodeJWT(t, tok)
	kid, _ := hdr["kid"].(string)
	if kid == "" {
		t.Fatal("token without kid")
	}
	return kid
}

// decodeJWT returns the header and claims of a compact JWS, unverified.
func decodeJWT(t *testing.T, tok string) (map[string]any, map[string]any) {
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

// --- hand-made JWS, for the attacks the Signer refuses to produce ---

var b64 = base64.RawURLEncoding

// publicJWK is the RFC 7517 form of an EC P-256 public key; withPrivate
// adds d, as a careless client might.
func publicJWK(k *ecdsa.PrivateKey, withPrivate bool) map[string]any {
	pub, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	m := map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(pub[1:33]), "y": b64.EncodeToString(pub[33:65])}
	if withPrivate {
		d, err := k.Bytes()
		if err != nil {
			panic(err)
		}
		m["d"] = b64.EncodeToString(d)
	}
	return m
}

// signingInput encodes a JWS header and payload.
func signingInput(hdr, claims map[string]any) string {
	hb, _ := json.Marshal(hdr)
	cb, _ := json.Marshal(claims)
	return b64.EncodeToString(hb) + "." + b64.EncodeToString(cb)
}

// es256 signs input with k as JWS ES256 (r‖s, RFC 7518 §3.4).
func es256(k *ecdsa.PrivateKey, input string) string {
	d := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		panic(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return b64.EncodeToString(sig)
}

// proofClaims are the claims of a valid proof for a gateway request.
func (s *system) proofClaims(method, path, tok string) map[string]any {
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	return map[string]any{
		"jti": b64.EncodeToString(jti), "htm": method, "htu": s.gwURL + path,
		"iat": s.clk.Now().Unix(), "ath": dpop.ATH(tok),
	}
}

// malleate re-encodes an ES256 signature (r, s) as (r, n−s): other bytes,
// still a valid signature of the same proof (as in dpop/rfc_test.go).
func malleate(t *testing.T, jws string) string {
	t.Helper()
	parts := strings.Split(jws, ".")
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatal("not an ES256 signature")
	}
	n := elliptic.P256().Params().N
	sv := new(big.Int).SetBytes(sig[32:])
	sv.Sub(n, sv)
	out := make([]byte, 64)
	copy(out, sig[:32])
	sv.FillBytes(out[32:])
	parts[2] = b64.EncodeToString(out)
	mal := strings.Join(parts, ".")
	if mal == jws {
		t.Fatal("malleation changed nothing")
	}
	return mal
}

// revoke revokes tok at /revoke (RFC 7009) as clientID and waits until
// the gateway's revocation set holds it (the feed is woken at once).
func (s *system) revoke(tok, clientID string) {
	s.t.Helper()
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, _ := http.NewRequest(http.MethodPost, s.asURL+authz.PathRevoke, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, s.secrets[clientID])
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("revoke: %d", resp.StatusCode)
	}
	_, claims := decodeJWT(s.t, tok)
	jti, _ := claims["jti"].(string)
	for deadline := time.Now().Add(5 * time.Second); s.revoked.Check(jti, "", s.clk.Now()) != revocation.Revoked; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatal("the revocation did not reach the gateway within 5s")
		}
	}
}
