package authz

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

const (
	downstreamAPI = "https://downstream.example"
	thirdAPI      = "https://third.example"
	fourthAPI     = "https://fourth.example"
)

// withExchangePolicies declares the token_exchange policies of the
// exchanging clients exchangeClient creates:
//
//	svc-a       serves testAPI, may exchange for downstreamAPI, scope read
//	svc-b       serves downstreamAPI, may exchange for thirdAPI
//	svc-c       serves thirdAPI, may exchange for fourthAPI (depth 2)
//	svc-x       serves another API: a thief's client
//	svc-bearer  like svc-a, sender constraint bearer
func withExchangePolicies(cfg *config.Config) {
	pol := func(id, serves, to string) config.Client {
		return config.Client{ID: id, TokenExchange: &config.TokenExchange{
			SubjectAudiences: []string{serves}, Audiences: []string{to, fourthAPI + "/extra"}, Scopes: []string{"read"}}}
	}
	cfg.Clients = append(cfg.Clients,
		pol("svc-a", testAPI, downstreamAPI), pol("svc-b", downstreamAPI, thirdAPI),
		pol("svc-c", thirdAPI, fourthAPI), pol("svc-x", "https://elsewhere.example", downstreamAPI),
		pol("svc-bearer", testAPI, downstreamAPI))
}

// exchanger is a private_key_jwt client of the token exchange grant.
type exchanger struct {
	id  string
	key *ecdsa.PrivateKey
	pop *dpop.Signer // its own DPoP key
}

// exchangeClient registers a private_key_jwt client with the token
// exchange grant and returns it with a DPoP key.
func (h *harness) exchangeClient(id, constraint string) *exchanger {
	h.t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	c := store.Client{ID: id, AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: set, SenderConstraint: constraint,
		GrantTypes: []oauth.GrantType{oauth.GrantTokenExchange, oauth.GrantClientCredentials},
		Scopes:     []string{"read", "write"}, Audiences: []string{downstreamAPI}}
	if _, err := CreateClient(context.Background(), h.st, &c, h.clk.Now()); err != nil {
		h.t.Fatal(err)
	}
	return &exchanger{id: id, key: k, pop: h.newSigner()}
}

// exchangeForm is a token exchange request for subject aimed at target.
func exchangeForm(subject, target string, kv ...string) url.Values {
	f := url.Values{"grant_type": {string(oauth.GrantTokenExchange)}, "subject_token": {subject},
		"subject_token_type": {oauth.TokenTypeAccessToken}, "resource": {target}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			f.Del(kv[i])
		} else {
			f.Set(kv[i], kv[i+1])
		}
	}
	return f
}

// tokenExchange posts form as e, authenticated by private_key_jwt, with a
// DPoP proof of pop (nil: none).
func (h *harness) tokenExchange(e *exchanger, form url.Values, pop *dpop.Signer) *response {
	h.t.Helper()
	now := h.clk.Now()
	form.Set("client_id", e.id)
	form.Set("client_assertion_type", assertionType)
	form.Set("client_assertion", h.assertion(e.key, jose.ES256, "k1", jwt.Claims{Issuer: e.id, Subject: e.id,
		Audience: jwt.Audience{h.issuer}, Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: randomToken(8)}))
	var hdr []string
	if pop != nil {
		hdr = []string{"DPoP", h.proof(pop)}
	}
	return h.post(PathToken, form, hdr...)
}

// subjectToken is a DPoP-bound access token of the client web for aud
// with scope "read write", as a user's front-end service would hold.
func (h *harness) subjectTokenFor(aud string, s *dpop.Signer) string {
	h.t.Helper()
	r := h.token("web", url.Values{"grant_type": {"client_credentials"}, "resource": {aud}, "scope": {"read write"}}, s)
	wantToken(h.t.(*testing.T), r)
	return r.str("access_token")
}

// TestTokenExchangeIssues: a client serving the subject token's audience
// exchanges it for a token aimed at the requested resource, narrowed to
// its policy's scope, bound to its own DPoP key, naming it in act, with
// issued_token_type and no refresh token (RFC 8693 §2.2.1, §4.1).
func TestTokenExchangeIssues(t *testing.T) {
	h := newHarness(t, withExchangePolicies)
	a := h.exchangeClient("svc-a", "")
	user := h.newSigner()
	subject := h.subjectTokenFor(testAPI, user)
	r := h.tokenExchange(a, exchangeForm(subject, downstreamAPI), a.pop)
	wantToken(t, r)
	if r.str("issued_token_type") != oauth.TokenTypeAccessToken || r.str("token_type") != oauth.TokenTypeDPoP || r.json["refresh_token"] != nil {
		t.Fatalf("response %s", r.body)
	}
	if r.str("scope") != "read" {
		t.Fatalf("scope %q, want read (the policy's, narrower than the subject's)", r.str("scope"))
	}
	_, sub := decodeJWT(t, subject)
	_, cl := decodeJWT(t, r.str("access_token"))
	act, _ := cl["act"].(map[string]any)
	cnf, _ := cl["cnf"].(map[string]any)
	switch {
	case cl["sub"] != sub["sub"] || cl["client_id"] != "svc-a" || cl["aud"] != downstreamAPI:
		t.Fatalf("claims %v", cl)
	case act == nil || act["sub"] != "svc-a" || act["act"] != nil:
		t.Fatalf("act %v, want {sub: svc-a}", cl["act"])
	case cnf["jkt"] != a.pop.Thumbprint() || cnf["jkt"] == user.Thumbprint():
		t.Fatalf("cnf %v, want the exchanger's key %s", cnf, a.pop.Thumbprint())
	case cl["exp"].(float64) > sub["exp"].(float64):
		t.Fatalf("exp %v after the subject token's %v", cl["exp"], sub["exp"])
	}
	if n := counters(t, h.s)[`ward_authz_tokens_issued_total{grant="`+string(oauth.GrantTokenExchange)+`",sender="dpop"}`]; n != 1 {
		t.Fatalf("tokens_issued_total for the exchange %v, want 1", n)
	}
}

// TestTokenExchangeBoundToExchangerKey: the downstream resource accepts the
// exchanged token with the exchanger's DPoP key and refuses it with the
// subject token holder's key.
func TestTokenExchangeBoundToExchangerKey(t *testing.T) {
	h := newHarness(t, withExchangePolicies)
	a := h.exchangeClient("svc-a", "")
	user := h.newSigner()
	r := h.tokenExchange(a, exchangeForm(h.subjectTokenFor(testAPI, user), downstreamAPI), a.pop)
	wantToken(t, r)
	tok := r.str("access_token")
	v, err := dpop.NewVerifier(dpop.WithClock(h.clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := resource.New(resource.Config{Issuer: h.issuer, Audience: downstreamAPI, DPoP: v,
		Keys: resource.StaticKeys(h.s.km.JWKS(h.clk.Now())), Clock: h.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	call := func(s *dpop.Signer) error {
		p, err := s.Proof(http.MethodGet, downstreamAPI+"/x", dpop.WithAccessToken(tok))
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, downstreamAPI+"/x", nil)
		req.Header.Set("Authorization", "DPoP "+tok)
		req.Header.Set("DPoP", p)
		_, err = rs.Authenticate(req, resource.Requirement{})
		return err
	}
	if err := call(a.pop); err != nil {
		t.Fatalf("the exchanger's key was refused: %v", err)
	}
	var e *oauth.Error
	if err := call(user); !errors.As(err, &e) || e.Code != oauth.InvalidToken && e.Code != oauth.InvalidDPoPProof {
		t.Fatalf("the subject holder's key was accepted or misjudged: %v", err)
	}
}

// TestTokenExchangeRefusals: every refusal has its RFC 8693 §2.2.2 / RFC
// 6749 §5.2 error code.
func TestTokenExchangeRefusals(t *testing.T) {
	h := newHarness(t, withExchangePolicies, withoutAuthBackoff())
	a := h.exchangeClient("svc-a", "")
	bearer := h.exchangeClient("svc-bearer", store.ConstraintBearer)
	nopol := h.exchangeClient("svc-nopolicy", "")
	user := h.newSigner()
	subject := h.subjectTokenFor(testAPI, user)
	other := h.subjectTokenFor("https://other.example", user)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := h.forgeAccessToken(k, subject)
	actorOther := h.subjectTokenFor(testAPI, user)
	cc := h.tokenExchange(a, url.Values{"grant_type": {"client_credentials"}, "resource": {downstreamAPI}}, a.pop)
	wantToken(t, cc)
	ownToken := cc.str("access_token")
	tests := []struct {
		name string
		e    *exchanger
		form url.Values
		pop  *dpop.Signer
		code string
	}{
		{"no policy", nopol, exchangeForm(subject, downstreamAPI), nopol.pop, oauth.UnauthorizedClient},
		{"subject_token missing", a, exchangeForm(subject, downstreamAPI, "subject_token", ""), a.pop, oauth.InvalidRequest},
		{"subject_token_type missing", a, exchangeForm(subject, downstreamAPI, "subject_token_type", ""), a.pop, oauth.InvalidRequest},
		{"subject_token_type id_token", a, exchangeForm(subject, downstreamAPI, "subject_token_type", "urn:ietf:params:oauth:token-type:id_token"), a.pop, oauth.InvalidRequest},
		{"subject_token repeated", a, func() url.Values {
			f := exchangeForm(subject, downstreamAPI)
			f.Add("subject_token", other)
			return f
		}(), a.pop, oauth.InvalidRequest},
		{"actor_token_type without actor_token", a, exchangeForm(subject, downstreamAPI, "actor_token_type", oauth.TokenTypeAccessToken), a.pop, oauth.InvalidRequest},
		{"actor_token without type", a, exchangeForm(subject, downstreamAPI, "actor_token", ownToken), a.pop, oauth.InvalidRequest},
		{"actor_token of someone else", a, exchangeForm(subject, downstreamAPI, "actor_token", actorOther, "actor_token_type", oauth.TokenTypeAccessToken), a.pop, oauth.InvalidRequest},
		{"requested_token_type refresh", a, exchangeForm(subject, downstreamAPI, "requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"), a.pop, oauth.InvalidRequest},
		{"no target", a, exchangeForm(subject, downstreamAPI, "resource", ""), a.pop, oauth.InvalidRequest},
		{"resource not allowed", a, exchangeForm(subject, "https://evil.example"), a.pop, oauth.InvalidTarget},
		{"audience not allowed", a, exchangeForm(subject, downstreamAPI, "audience", "https://evil.example"), a.pop, oauth.InvalidTarget},
		{"resource with fragment", a, exchangeForm(subject, downstreamAPI+"#x"), a.pop, oauth.InvalidTarget},
		{"subject_token garbage", a, exchangeForm("a.b.c", downstreamAPI), a.pop, oauth.InvalidRequest},
		{"subject_token forged", a, exchangeForm(forged, downstreamAPI), a.pop, oauth.InvalidRequest},
		{"subject_token not aimed at the client", a, exchangeForm(other, downstreamAPI), a.pop, oauth.InvalidRequest},
		{"scope wider than the policy", a, exchangeForm(subject, downstreamAPI, "scope", "read write"), a.pop, oauth.InvalidScope},
		{"scope malformed", a, exchangeForm(subject, downstreamAPI, "scope", `re"ad`), a.pop, oauth.InvalidScope},
		{"no DPoP proof", a, exchangeForm(subject, downstreamAPI), nil, oauth.InvalidDPoPProof},
		{"bearer client without proof", bearer, exchangeForm(subject, downstreamAPI), nil, oauth.InvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, h.tokenExchange(tc.e, tc.form, tc.pop), http.StatusBadRequest, tc.code)
		})
	}
	// Clients that may not use the grant at all.
	wantError(t, h.token("web", exchangeForm(subject, downstreamAPI), user), http.StatusBadRequest, oauth.UnauthorizedClient)
	wantError(t, h.token("spa", exchangeForm(subject, downstreamAPI), user), http.StatusBadRequest, oauth.UnauthorizedClient)
}

// forgeAccessToken re-signs the claims of tok with k under the server's
// key id: the signature check must refuse it.
func (h *harness) forgeAccessToken(k *ecdsa.PrivateKey, tok string) string {
	h.t.Helper()
	hdr, cl := decodeJWT(h.t.(*testing.T), tok)
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", hdr["kid"]))
	if err != nil {
		h.t.Fatal(err)
	}
	out, err := jwt.Signed(sig).Claims(cl).Serialize()
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// TestTokenExchangeStolenSubjectToken: a token stolen from the service it
// was aimed at cannot be exchanged by another client, even one with a
// token_exchange policy for the same downstream audience.
func TestTokenExchangeStolenSubjectToken(t *testing.T) {
	h := newHarness(t, withExchangePolicies)
	thief := h.exchangeClient("svc-x", "")
	subject := h.subjectTokenFor(testAPI, h.newSigner())
	wantError(t, h.tokenExchange(thief, exchangeForm(subject, downstreamAPI), thief.pop), http.StatusBadRequest, oauth.InvalidRequest)
}

// TestTokenExchangeExpiredOrRevokedSubject: an expired subject token and a
// revoked one are refused with invalid_request (RFC 8693 §2.2.2).
func TestTokenExchangeExpiredOrRevokedSubject(t *testing.T) {
	h := newHarness(t, withExchangePolicies)
	a := h.exchangeClient("svc-a", "")
	user := h.newSigner()
	revoked := h.subjectTokenFor(testAPI, user)
	if r := h.post(PathRevoke, url.Values{"token": {revoked}}, h.basic("web")...); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	wantError(t, h.tokenExchange(a, exchangeForm(revoked, downstreamAPI), a.pop), http.StatusBadRequest, oauth.InvalidRequest)
	expired := h.subjectTokenFor(testAPI, user)
	h.clk.Advance(h.s.accessTokenTTL(&client{Client: &store.Client{}}) + time.Second)
	wantError(t, h.tokenExchange(a, exchangeForm(expired, downstreamAPI), a.pop), http.StatusBadRequest, oauth.InvalidRequest)
}

// TestTokenExchangeLifetime: the exchanged token never outlives its
// subject token.
func TestTokenExchangeLifetime(t *testing.T) {
	h := newHarness(t, withExchangePolicies)
	a := h.exchangeClient("svc-a", "")
	subject := h.subjectTokenFor(testAPI, h.newSigner())
	_, sub := decodeJWT(t, subject)
	h.clk.Advance(time.Duration(sub["exp"].(float64)-sub["iat"].(float64))*time.Second - 90*time.Second)
	r := h.tokenExchange(a, exchangeForm(subject, downstreamAPI), a.pop)
	wantToken(t, r)
	_, cl := decodeJWT(t, r.str("access_token"))
	if n := r.json["expires_in"].(float64); n > 90 || cl["exp"] != sub["exp"] {
		t.Fatalf("expires_in %v, exp %v: want 90 s and the subject's exp %v", n, cl["exp"], sub["exp"])
	}
	// Half a second left: nothing to give.
	h.clk.Advance(90*time.Second - 500*time.Millisecond)
	wantError(t, h.tokenExchange(a, exchangeForm(subject, downstreamAPI), a.pop), http.StatusBadRequest, oauth.InvalidRequest)
}

// TestTokenExchangeActChain: a token exchanged twice names both actors,
// the latest outermost (RFC 8693 §4.1); a third exchange beyond the
// client's max_chain_depth (2) is refused with invalid_request.
func TestTokenExchangeActChain(t *testing.T) {
	h := newHarness(t, withExchangePolicies)
	a, b, c := h.exchangeClient("svc-a", ""), h.exchangeClient("svc-b", ""), h.exchangeClient("svc-c", "")
	r := h.tokenExchange(a, exchangeForm(h.subjectTokenFor(testAPI, h.newSigner()), downstreamAPI), a.pop)
	wantToken(t, r)
	r = h.tokenExchange(b, exchangeForm(r.str("access_token"), thirdAPI), b.pop)
	wantToken(t, r)
	_, cl := decodeJWT(t, r.str("access_token"))
	act, _ := cl["act"].(map[string]any)
	inner, _ := act["act"].(map[string]any)
	if act["sub"] != "svc-b" || inner["sub"] != "svc-a" || inner["act"] != nil || cl["client_id"] != "svc-b" {
		t.Fatalf("act %v, want {sub: svc-b, act: {sub: svc-a}}", cl["act"])
	}
	wantError(t, h.tokenExchange(c, exchangeForm(r.str("access_token"), fourthAPI), c.pop), http.StatusBadRequest, oauth.InvalidRequest)
	// With a deeper policy, the same exchange is allowed.
	h.cfg.Clients[2].TokenExchange.MaxChainDepth = 3
	wantToken(t, h.tokenExchange(c, exchangeForm(r.str("access_token"), fourthAPI), c.pop))
}

// TestTokenExchangeMayAct: a subject token with may_act (RFC 8693 §4.4)
// is exchanged only by the client it names.
func TestTokenExchangeMayAct(t *testing.T) {
	h := newHarness(t, withExchangePolicies)
	a := h.exchangeClient("svc-a", "")
	mint := func(mayAct string) string {
		now := h.clk.Now()
		k, err := h.s.km.Signer(now)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := signJWT(k, "at+jwt", &atClaims{Issuer: h.issuer, Subject: "u-alice", Audience: audience{testAPI}, ClientID: "web",
			Scope: "read", JTI: randomToken(16), IssuedAt: now.Unix(), Expiry: now.Add(time.Minute).Unix(), MayAct: &actor{Subject: mayAct}})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	wantError(t, h.tokenExchange(a, exchangeForm(mint("svc-b"), downstreamAPI), a.pop), http.StatusBadRequest, oauth.InvalidRequest)
	wantToken(t, h.tokenExchange(a, exchangeForm(mint("svc-a"), downstreamAPI), a.pop))
}

// TestTokenExchangeRefusedEvent: a refused exchange is a security event
// naming the client and the error code, never the token.
func TestTokenExchangeRefusedEvent(t *testing.T) {
	h := newHarness(t, withExchangePolicies)
	events := withEvents(h)
	thief := h.exchangeClient("svc-x", "")
	subject := h.subjectTokenFor(testAPI, h.newSigner())
	wantError(t, h.tokenExchange(thief, exchangeForm(subject, downstreamAPI), thief.pop), http.StatusBadRequest, oauth.InvalidRequest)
	ev := onlyEvent(t, events(), secevent.ExchangeRefused)
	if ev.ClientID != "svc-x" || ev.Reason != oauth.InvalidRequest || strings.Contains(ev.Reason+ev.Subject, subject) {
		t.Fatalf("event %+v", ev)
	}
}

// TestTokenExchangeMetadata: the metadata advertises the grant type.
func TestTokenExchangeMetadata(t *testing.T) {
	h := newHarness(t)
	req, _ := http.NewRequest(http.MethodGet, h.issuer+"/.well-known/oauth-authorization-server", nil)
	r := h.do(h.srv.Client(), req)
	if !strings.Contains(string(r.body), `"`+string(oauth.GrantTokenExchange)+`"`) {
		t.Fatalf("grant_types_supported lacks token exchange: %s", r.body)
	}
}

// FuzzParseExchangeForm: any form either parses to a request with a
// subject token and 1..maxExchangeTargets targets, or is refused with an
// oauth.Error of the grant's codes.
func FuzzParseExchangeForm(f *testing.F) {
	f.Add("subject_token=a.b.c&subject_token_type=" + url.QueryEscape(oauth.TokenTypeAccessToken) + "&resource=https%3A%2F%2Fa.example")
	f.Add("subject_token=x&subject_token_type=" + url.QueryEscape(oauth.TokenTypeAccessToken) + "&audience=a&audience=a&scope=read+read")
	f.Add("subject_token=x&actor_token=y&actor_token_type=" + url.QueryEscape(oauth.TokenTypeAccessToken) + "&resource=x")
	f.Add("subject_token=x&subject_token=y")
	f.Add("scope=%22&resource=https://a#f")
	f.Fuzz(func(t *testing.T, q string) {
		form, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		req, err := parseExchangeForm(form)
		if err != nil {
			var e *oauth.Error
			if !errors.As(err, &e) || e.Code != oauth.InvalidRequest && e.Code != oauth.InvalidTarget && e.Code != oauth.InvalidScope {
				t.Fatalf("error %v", err)
			}
			return
		}
		if req.subjectToken == "" || len(req.targets) == 0 || len(req.targets) > maxExchangeTargets {
			t.Fatalf("accepted %+v", req)
		}
		for _, s := range strings.Fields(req.scope) {
			if !validScopeToken(s) {
				t.Fatalf("accepted scope %q", s)
			}
		}
	})
}

// BenchmarkTokenExchangeVsBare interleaves one token exchange through the
// server's handler with the bare cryptography it needs — three P-256
// verifications (the subject token, the client assertion, the DPoP proof)
// and one signature — and reports the ratio of their summed times
// (x-bare). The assertion and proof are made outside the timed parts (the
// client's work).
func BenchmarkTokenExchangeVsBare(b *testing.B) {
	h := newHarness(b, withExchangePolicies, withoutRequestRates())
	a := h.exchangeClient("svc-a", "")
	r := h.token("web", url.Values{"grant_type": {"client_credentials"}, "resource": {testAPI}, "scope": {"read write"}}, h.newSigner())
	subject := r.str("access_token")
	if subject == "" {
		b.Fatalf("no subject token: %s", r.body)
	}
	handler := h.s.Handler()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	var full, base time.Duration
	n := 0
	for b.Loop() {
		now := h.clk.Now()
		form := exchangeForm(subject, downstreamAPI)
		form.Set("client_id", a.id)
		form.Set("client_assertion_type", assertionType)
		form.Set("client_assertion", h.assertion(a.key, jose.ES256, "k1", jwt.Claims{Issuer: a.id, Subject: a.id,
			Audience: jwt.Audience{h.issuer}, Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: randomToken(8)}))
		req := httptest.NewRequest(http.MethodPost, h.issuer+PathToken, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", h.proof(a.pop))
		w := httptest.NewRecorder()
		t0 := time.Now()
		handler.ServeHTTP(w, req)
		t1 := time.Now()
		for range 3 {
			if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
				b.Fatal("verify")
			}
		}
		if _, err := ecdsa.SignASN1(rand.Reader, k, d[:]); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		full += t1.Sub(t0)
		base += t2.Sub(t1)
		n++
	}
	b.ReportMetric(float64(full)/float64(base), "x-bare")
	b.ReportMetric(float64(full.Nanoseconds())/float64(n), "exchange-ns/op")
	b.ReportMetric(float64(base.Nanoseconds())/float64(n), "bare-ns/op")
}

// slowRevocationStore advances the clock while the exchange checks the
// subject token's revocation: a slow store between the moment the
// lifetime is computed and the moment the token is signed.
type slowRevocationStore struct {
	store.Store
	clk *clock
}

func (s slowRevocationStore) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	s.clk.Advance(2 * time.Second)
	return s.Store.AccessTokenRevoked(ctx, jti)
}

// TestTokenExchangeLifetimeSlowRequest: an exchange that takes seconds
// (a slow store, a loaded server) still issues a token expiring no later
// than its subject token; a chain of slow exchanges cannot stretch the
// user's token second by second.
func TestTokenExchangeLifetimeSlowRequest(t *testing.T) {
	h := newHarness(t, withExchangePolicies)
	a := h.exchangeClient("svc-a", "")
	subject := h.subjectTokenFor(testAPI, h.newSigner())
	_, sub := decodeJWT(t, subject)
	h.clk.Advance(time.Duration(sub["exp"].(float64)-sub["iat"].(float64))*time.Second - 90*time.Second)
	h.s.st = slowRevocationStore{Store: h.s.st, clk: h.clk}
	r := h.tokenExchange(a, exchangeForm(subject, downstreamAPI), a.pop)
	wantToken(t, r)
	_, cl := decodeJWT(t, r.str("access_token"))
	if cl["exp"].(float64) > sub["exp"].(float64) {
		t.Fatalf("exchanged exp %v after the subject token's %v", cl["exp"], sub["exp"])
	}
	if n := r.json["expires_in"].(float64); int64(n) != int64(cl["exp"].(float64)-cl["iat"].(float64)) {
		t.Fatalf("expires_in %v does not match exp-iat %v", n, cl["exp"].(float64)-cl["iat"].(float64))
	}
}
