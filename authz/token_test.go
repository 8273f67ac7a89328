package authz

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/pkce"
)

// code runs a browser flow for clientID and returns a code and its
// verifier. extra overrides authorization parameters.
func (h *harness) code(b *browser, clientID, redirect string, extra url.Values) (string, string) {
	h.t.Helper()
	v, _ := pkce.NewVerifier()
	p := authParams(clientID, redirect, pkce.Challenge(v))
	for k, vals := range extra {
		p[k] = vals
	}
	q := h.authorize(b, p)
	if q.Get("code") == "" {
		h.t.Fatalf("no code: %v", q)
	}
	return q.Get("code"), v
}

// auth adds clientID's credentials to a token request.
func (h *harness) auth(clientID string, form url.Values) []string {
	form.Set("client_id", clientID)
	switch clientID {
	case "web", "bearer", "mtls":
		form.Del("client_id")
		return h.basic(clientID)
	case "post", "svc":
		form.Set("client_secret", h.secrets[clientID])
	}
	return nil
}

// token posts to /token as clientID with an optional DPoP signer.
func (h *harness) token(clientID string, form url.Values, s *dpop.Signer, opts ...dpop.ProofOption) *response {
	h.t.Helper()
	hdr := h.auth(clientID, form)
	if s != nil {
		hdr = append(hdr, "DPoP", h.proof(s, opts...))
	}
	return h.post(PathToken, form, hdr...)
}

func (h *harness) exchange(clientID, code, verifier, redirect string, s *dpop.Signer) *response {
	h.t.Helper()
	return h.token(clientID, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect}}, s)
}

func (h *harness) refresh(clientID, rt string, s *dpop.Signer, extra ...string) *response {
	h.t.Helper()
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return h.token(clientID, f, s)
}

func (h *harness) introspect(tok string) *response {
	h.t.Helper()
	return h.post(PathIntrospect, url.Values{"token": {tok}}, h.basic("web")...)
}

func wantError(t *testing.T, r *response, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, code)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("error response Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
	}
}

func wantToken(t *testing.T, r *response) {
	t.Helper()
	if r.status != http.StatusOK || r.str("access_token") == "" {
		t.Fatalf("got %d %s, want a token", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store (RFC 6749 §5.1)", r.header.Get("Cache-Control"))
	}
}

// TestCodeRules: codes are single use, at most 60 s, bound to the client,
// the redirect URI, the PKCE challenge and dpop_jkt (OAuth 2.1 §4.1.3,
// RFC 7636 §4.6, RFC 9449 §10).
func TestCodeRules(t *testing.T) {
	h := newHarness(t)
	b := h.newBrowser()
	s := h.newSigner()
	other := h.newSigner()
	tests := []struct {
		name  string
		extra url.Values
		do    func(code, verifier string) *response
		code  string
	}{
		{"wrong verifier", nil, func(c, _ string) *response {
			v, _ := pkce.NewVerifier()
			return h.exchange("web", c, v, webRedirect, s)
		}, "invalid_grant"},
		{"missing verifier", nil, func(c, _ string) *response { return h.exchange("web", c, "", webRedirect, s) }, "invalid_request"},
		{"other client", nil, func(c, v string) *response { return h.exchange("post", c, v, webRedirect, s) }, "invalid_grant"},
		{"other redirect_uri", nil, func(c, v string) *response { return h.exchange("web", c, v, webRedirect+"/x", s) }, "invalid_grant"},
		{"no redirect_uri", nil, func(c, v string) *response { return h.exchange("web", c, v, "", s) }, "invalid_grant"},
		{"expired after 60s", nil, func(c, v string) *response {
			h.clk.Advance(61 * time.Second)
			return h.exchange("web", c, v, webRedirect, s)
		}, "invalid_grant"},
		{"dpop_jkt other key", url.Values{"dpop_jkt": {s.Thumbprint()}}, func(c, v string) *response { return h.exchange("web", c, v, webRedirect, other) }, "invalid_dpop_proof"},
		{"dpop_jkt no proof", url.Values{"dpop_jkt": {s.Thumbprint()}}, func(c, v string) *response { return h.exchange("web", c, v, webRedirect, nil) }, "invalid_dpop_proof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, v := h.code(b, "web", webRedirect, tt.extra)
			wantError(t, tt.do(c, v), http.StatusBadRequest, tt.code)
		})
	}
	t.Run("other client leaves the code to its owner", func(t *testing.T) {
		c, v := h.code(b, "web", webRedirect, nil)
		wantError(t, h.exchange("post", c, v, webRedirect, s), http.StatusBadRequest, "invalid_grant")
		wantToken(t, h.exchange("web", c, v, webRedirect, s))
	})
	t.Run("used code from other client revokes nothing", func(t *testing.T) {
		// Only the owner can have redeemed the code, so a replay by
		// another client is refused without ending the owner's grant.
		c, v := h.code(b, "web", webRedirect, nil)
		r := h.exchange("web", c, v, webRedirect, s)
		wantToken(t, r)
		wantError(t, h.exchange("post", c, v, webRedirect, s), http.StatusBadRequest, "invalid_grant")
		if in := h.introspect(r.str("access_token")); in.json["active"] != true {
			t.Fatalf("the owner's token was revoked by another client's replay: %s", in.body)
		}
	})
	t.Run("dpop_jkt same key", func(t *testing.T) {
		c, v := h.code(b, "web", webRedirect, url.Values{"dpop_jkt": {s.Thumbprint()}})
		wantToken(t, h.exchange("web", c, v, webRedirect, s))
	})
}

// TestCodeReplayRevokesTokens: a second redemption fails and revokes the
// access and refresh tokens issued from the code (RFC 9700 §4.5).
func TestCodeReplayRevokesTokens(t *testing.T) {
	h := newHarness(t)
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	r := h.exchange("web", c, v, webRedirect, s)
	wantToken(t, r)
	at, rt := r.str("access_token"), r.str("refresh_token")
	if in := h.introspect(at); in.json["active"] != true {
		t.Fatalf("fresh token inactive: %s", in.body)
	}
	wantError(t, h.exchange("web", c, v, webRedirect, s), http.StatusBadRequest, "invalid_grant")
	for name, tok := range map[string]string{"access": at, "refresh": rt} {
		if in := h.introspect(tok); in.json["active"] != false {
			t.Errorf("%s token still active after code replay: %s", name, in.body)
		}
	}
	wantError(t, h.refresh("web", rt, s), http.StatusBadRequest, "invalid_grant")
}

// TestRefreshReuseRevokesFamily: an already-rotated refresh token revokes
// the whole family, also after a restart, and is logged as likely theft
// without the token (RFC 9700 §4.14.2).
func TestRefreshReuseRevokesFamily(t *testing.T) {
	h := newHarness(t)
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	r := h.exchange("web", c, v, webRedirect, s)
	wantToken(t, r)
	rt1 := r.str("refresh_token")
	r2 := h.refresh("web", rt1, s)
	wantToken(t, r2)
	rt2 := r2.str("refresh_token")

	h.reopen() // the reuse is detected from what is on disk
	wantError(t, h.refresh("web", rt1, s), http.StatusBadRequest, "invalid_grant")
	log := h.log.String()
	if !strings.Contains(log, "likely theft") || !strings.Contains(log, "client_id=web") || !strings.Contains(log, "family_id=") {
		t.Errorf("reuse not logged as theft with client and family: %s", log)
	}
	if strings.Contains(log, rt1) || strings.Contains(log, rt2) {
		t.Error("a refresh token was logged")
	}
	h.reopen()
	wantError(t, h.refresh("web", rt2, s), http.StatusBadRequest, "invalid_grant")
	if in := h.introspect(r2.str("access_token")); in.json["active"] != false {
		t.Errorf("access token of the revoked family still active: %s", in.body)
	}
}

// TestRefreshRace: of 50 concurrent redemptions of one refresh token,
// exactly one succeeds when tokens.refresh_token_reuse_grace is off (with
// it on, see TestRefreshGraceRace).
func TestRefreshRace(t *testing.T) {
	h := newHarness(t, func(c *configT) { c.Tokens.RefreshTokenReuseGrace = 0 })
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "spa", spaRedirect, nil)
	r := h.exchange("spa", c, v, spaRedirect, s)
	wantToken(t, r)
	rt := r.str("refresh_token")
	const n = 50
	var wg sync.WaitGroup
	var ok atomic.Int32
	proofs := make([]string, n)
	for i := range proofs {
		proofs[i] = h.proof(s)
	}
	for i := range n {
		wg.Go(func() {
			f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"spa"}}
			req, _ := http.NewRequest(http.MethodPost, h.issuer+PathToken, strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("DPoP", proofs[i])
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d of %d concurrent refreshes succeeded, want exactly 1", ok.Load(), n)
	}
}

// TestRefreshRules: scope may narrow, never widen (RFC 6749 §6); a public
// client's refresh token needs the same DPoP key (RFC 9449 §5); a family
// has an absolute lifetime; a token of another client is refused.
func TestRefreshRules(t *testing.T) {
	h := newHarness(t, func(c *configT) { c.Tokens.FamilyLifetime = 2 * time.Hour; c.Tokens.RefreshTokenTTL = time.Hour })
	s := h.newSigner()
	b := h.newBrowser()
	fresh := func(client, redirect string) string {
		c, v := h.code(b, client, redirect, url.Values{"scope": {"read"}})
		r := h.exchange(client, c, v, redirect, s)
		wantToken(t, r)
		return r.str("refresh_token")
	}
	t.Run("narrow", func(t *testing.T) {
		r := h.refresh("web", fresh("web", webRedirect), s, "scope", "read")
		wantToken(t, r)
		if r.str("scope") != "read" {
			t.Fatalf("scope %q", r.str("scope"))
		}
	})
	t.Run("widen", func(t *testing.T) {
		wantError(t, h.refresh("web", fresh("web", webRedirect), s, "scope", "read write"), http.StatusBadRequest, "invalid_scope")
	})
	t.Run("other client", func(t *testing.T) {
		wantError(t, h.refresh("post", fresh("web", webRedirect), s), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("public other key", func(t *testing.T) {
		wantError(t, h.refresh("spa", fresh("spa", spaRedirect), h.newSigner()), http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("public no proof", func(t *testing.T) {
		wantError(t, h.refresh("spa", fresh("spa", spaRedirect), nil), http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("public same key", func(t *testing.T) {
		r := h.refresh("spa", fresh("spa", spaRedirect), s)
		wantToken(t, r)
		ir := h.post(PathIntrospect, url.Values{"token": {r.str("refresh_token")}, "client_id": {"spa"}})
		if ir.status != http.StatusUnauthorized {
			t.Fatalf("a public client introspected: %s", ir.body)
		}
		_, fam, err := h.st.GetRefreshToken(context.Background(), hashToken(r.str("refresh_token")))
		if err != nil || fam.JKT != s.Thumbprint() {
			t.Fatalf("refresh token not bound: %v %v", fam, err)
		}
	})
	t.Run("family lifetime", func(t *testing.T) {
		rt := fresh("web", webRedirect)
		for range 2 { // rotations keep it alive within the lifetime
			h.clk.Advance(50 * time.Minute)
			r := h.refresh("web", rt, s)
			wantToken(t, r)
			rt = r.str("refresh_token")
		}
		h.clk.Advance(21 * time.Minute) // 2h10m after the grant
		wantError(t, h.refresh("web", rt, s), http.StatusBadRequest, "invalid_grant")
	})
}

// TestSenderConstraint: DPoP is required by default, bearer only for an
// explicit opt-out, mTLS-only clients refused until mTLS lands; bound
// tokens are token_type DPoP with cnf.jkt (RFC 9449 §5, §6).
func TestSenderConstraint(t *testing.T) {
	h := newHarness(t)
	s := h.newSigner()
	cc := func(client string, signer *dpop.Signer) *response {
		return h.token(client, url.Values{"grant_type": {"client_credentials"}}, signer)
	}
	wantError(t, cc("svc", nil), http.StatusBadRequest, "invalid_dpop_proof")
	r := cc("svc", s)
	wantToken(t, r)
	if r.str("token_type") != "DPoP" {
		t.Errorf("token_type %q", r.str("token_type"))
	}
	r = cc("bearer", nil)
	wantToken(t, r)
	if _, cl := decodeJWT(t, r.str("access_token")); r.str("token_type") != "Bearer" || cl["cnf"] != nil {
		t.Errorf("bearer opt-out: type %q claims %v", r.str("token_type"), cl)
	}
	r = cc("bearer", s) // a proof still binds
	if _, cl := decodeJWT(t, r.str("access_token")); r.str("token_type") != "DPoP" || cl["cnf"] == nil {
		t.Errorf("bearer client with proof: type %q", r.str("token_type"))
	}
	r = cc("mtls", s) // no client certificate (mtls_test.go has the rest)
	wantError(t, r, http.StatusBadRequest, "invalid_request")
	if !strings.Contains(r.str("error_description"), "mTLS") {
		t.Errorf("description %q does not explain mTLS", r.str("error_description"))
	}
	// Replayed proof (RFC 9449 §11.1).
	p := h.proof(s)
	f := url.Values{"grant_type": {"client_credentials"}}
	wantToken(t, h.post(PathToken, withSecret(f, "svc", h), "DPoP", p))
	wantError(t, h.post(PathToken, withSecret(f, "svc", h), "DPoP", p), http.StatusBadRequest, "invalid_dpop_proof")
	// Proof for another URL.
	other, _ := s.Proof(http.MethodPost, h.issuer+"/elsewhere")
	wantError(t, h.post(PathToken, withSecret(f, "svc", h), "DPoP", other), http.StatusBadRequest, "invalid_dpop_proof")
}

func withSecret(f url.Values, id string, h *harness) url.Values {
	g := url.Values{}
	for k, v := range f {
		g[k] = v
	}
	g.Set("client_id", id)
	g.Set("client_secret", h.secrets[id])
	return g
}

// TestNonces: with nonces on, a proof without one gets use_dpop_nonce and
// a DPoP-Nonce header; with it, a token and a fresh DPoP-Nonce (RFC 9449 §8).
func TestNonces(t *testing.T) {
	h := newHarness(t, func(c *configT) { c.DPoP.Nonce.Enabled = true })
	s := h.newSigner()
	f := url.Values{"grant_type": {"client_credentials"}}
	r := h.token("svc", f, s)
	wantError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	n := r.header.Get("DPoP-Nonce")
	if n == "" {
		t.Fatal("no DPoP-Nonce header")
	}
	r = h.token("svc", url.Values{"grant_type": {"client_credentials"}}, s, dpop.WithNonce(n))
	wantToken(t, r)
	if r.header.Get("DPoP-Nonce") == "" {
		t.Error("successful token response without DPoP-Nonce")
	}
	wantError(t, h.token("svc", url.Values{"grant_type": {"client_credentials"}}, s, dpop.WithNonce("bogus")), http.StatusBadRequest, "use_dpop_nonce")
}

// TestTokenRequestRules: grant types, scopes, resources, removed grants.
func TestTokenRequestRules(t *testing.T) {
	h := newHarness(t)
	s := h.newSigner()
	tests := []struct {
		name, client string
		form         url.Values
		status       int
		code         string
	}{
		{"password grant", "web", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}}, 400, "unsupported_grant_type"},
		{"unknown grant", "web", url.Values{"grant_type": {"urn:x"}}, 400, "unsupported_grant_type"},
		{"no grant", "web", url.Values{}, 400, "invalid_request"},
		{"scope not allowed", "svc", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, 400, "invalid_scope"},
		{"resource not allowed", "svc", url.Values{"grant_type": {"client_credentials"}, "resource": {"https://evil.example"}}, 400, "invalid_target"},
		{"resource with fragment", "svc", url.Values{"grant_type": {"client_credentials"}, "resource": {testAPI + "#x"}}, 400, "invalid_target"},
		{"grant not registered", "svc", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, 400, "unauthorized_client"},
		{"public client_credentials", "spa", url.Values{"grant_type": {"client_credentials"}}, 400, "unauthorized_client"},
		{"duplicate parameter", "svc", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.token(tt.client, tt.form, s)
			wantError(t, r, tt.status, tt.code)
			if tt.name == "password grant" && !strings.Contains(r.str("error_description"), "OAuth 2.1") {
				t.Errorf("description %q does not say OAuth 2.1 removed it", r.str("error_description"))
			}
		})
	}
	t.Run("scopes and resource allowed", func(t *testing.T) {
		r := h.token("svc", url.Values{"grant_type": {"client_credentials"}, "scope": {"read write read"}, "resource": {testAPI}}, s)
		wantToken(t, r)
		if _, cl := decodeJWT(t, r.str("access_token")); cl["scope"] != "read write" || cl["aud"] != testAPI {
			t.Errorf("claims %v", cl)
		}
	})
}

// countingStore fails the test on any write the client-credentials grant
// must not make.
type countingStore struct {
	storeT
	writes atomic.Int32
}

func TestClientCredentialsNoWrite(t *testing.T) {
	h := newHarness(t)
	cs := &countingStore{storeT: h.st}
	h.s.st = cs
	s := h.newSigner()
	for range 3 {
		wantToken(t, h.token("svc", url.Values{"grant_type": {"client_credentials"}}, s))
	}
	if n := cs.writes.Load(); n != 0 {
		t.Fatalf("client_credentials made %d store writes", n)
	}
	_ = context.Background()
}
