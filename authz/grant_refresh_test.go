package authz

import (
	"context"
	"github.com/wardauth/ward/oauth"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardauth/ward/mtls/mtlstest"
	"github.com/wardauth/ward/store"
)

// reuseCount is the value of ward_authz_refresh_reuse_total{outcome}.
func (h *harness) reuseCount(outcome string) float64 {
	h.t.Helper()
	fams, err := h.s.metrics.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "ward_authz_refresh_reuse_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	h.t.Fatalf("no ward_authz_refresh_reuse_total{outcome=%q}", outcome)
	return 0
}

// familyOf reads the family of a refresh token from the store.
func (h *harness) familyOf(rt string) (*store.RefreshToken, *store.Family) {
	h.t.Helper()
	tok, fam, err := h.st.GetRefreshToken(h.t.Context(), hashToken(rt))
	if err != nil {
		h.t.Fatal(err)
	}
	return tok, fam
}

// TestRefreshReuseGrace: tokens.refresh_token_reuse_grace (30 s by
// default). A rotated refresh token of a sender-constrained family
// presented again with the family's key within the window, while its
// successor is unused, is a client that lost the answer: it gets a new
// pair and the unused successor dies. Everything else that presents a
// rotated token revokes the family (RFC 9700 §4.14.2): the window passed,
// the successor was used, another key or no key (a thief), an unbound
// family. Re-issues and revocations are told apart in the log and in
// ward_authz_refresh_reuse_total.
func TestRefreshReuseGrace(t *testing.T) {
	h := newHarness(t)
	s := h.newSigner()
	// rotated returns the first refresh token of a new spa (DPoP-bound)
	// grant, already rotated, and its unused successor.
	rotated := func(t *testing.T, clientID, redirect string) (string, string) {
		t.Helper()
		c, v := h.code(h.newBrowser(), clientID, redirect, nil)
		r := h.exchange(clientID, c, v, redirect, s)
		wantToken(t, r)
		rt1 := r.str("refresh_token")
		r = h.refresh(clientID, rt1, s)
		wantToken(t, r)
		return rt1, r.str("refresh_token")
	}
	wantRevoked := func(t *testing.T, rt string) {
		t.Helper()
		if _, fam := h.familyOf(rt); !fam.Revoked() {
			t.Fatalf("family %s not revoked", fam.ID)
		}
		wantError(t, h.refresh("spa", rt, s), http.StatusBadRequest, "invalid_grant")
	}

	t.Run("same key within grace, successor unused", func(t *testing.T) {
		rt1, lost := rotated(t, "spa", spaRedirect)
		reissued, theft := h.reuseCount(reuseGraceReissued), h.reuseCount(reuseFamilyRevoked)
		mark := len(h.log.String())
		h.clk.Advance(20 * time.Second)
		r := h.refresh("spa", rt1, s)
		wantToken(t, r)
		rt3 := r.str("refresh_token")
		if rt3 == "" || rt3 == lost {
			t.Fatalf("re-issue gave refresh token %q, want a new one", rt3)
		}
		if tok, fam := h.familyOf(lost); tok.RotatedAt.IsZero() || fam.Revoked() {
			t.Fatalf("the unused successor is still live (%v) or the family revoked (%v)", tok.RotatedAt, fam.RevokedAt)
		}
		log := h.log.String()[mark:]
		if !strings.Contains(log, "lost answer") || strings.Contains(log, "likely theft") || strings.Contains(log, rt1) || strings.Contains(log, rt3) {
			t.Errorf("re-issue log: %s", log)
		}
		if h.reuseCount(reuseGraceReissued) != reissued+1 || h.reuseCount(reuseFamilyRevoked) != theft {
			t.Error("the re-issue was not counted as grace_reissued")
		}
		wantToken(t, h.refresh("spa", rt3, s))
	})
	t.Run("replaced successor presented later", func(t *testing.T) {
		rt1, lost := rotated(t, "spa", spaRedirect)
		wantToken(t, h.refresh("spa", rt1, s))
		wantError(t, h.refresh("spa", lost, s), http.StatusBadRequest, "invalid_grant")
		wantRevoked(t, rt1)
	})
	t.Run("same key after grace", func(t *testing.T) {
		rt1, rt2 := rotated(t, "spa", spaRedirect)
		theft := h.reuseCount(reuseFamilyRevoked)
		h.clk.Advance(30 * time.Second)
		wantError(t, h.refresh("spa", rt1, s), http.StatusBadRequest, "invalid_grant")
		wantRevoked(t, rt2)
		if h.reuseCount(reuseFamilyRevoked) != theft+1 {
			t.Error("the revocation was not counted as family_revoked")
		}
	})
	t.Run("same key, successor already used", func(t *testing.T) {
		rt1, rt2 := rotated(t, "spa", spaRedirect)
		r := h.refresh("spa", rt2, s)
		wantToken(t, r)
		wantError(t, h.refresh("spa", rt1, s), http.StatusBadRequest, "invalid_grant")
		wantRevoked(t, r.str("refresh_token"))
	})
	t.Run("other key (thief)", func(t *testing.T) {
		rt1, rt2 := rotated(t, "spa", spaRedirect)
		mark := len(h.log.String())
		wantError(t, h.refresh("spa", rt1, h.newSigner()), http.StatusBadRequest, "invalid_grant")
		wantRevoked(t, rt2)
		if log := h.log.String()[mark:]; !strings.Contains(log, "without the grant's key, likely theft") {
			t.Errorf("theft not logged: %s", log)
		}
	})
	t.Run("no proof (thief)", func(t *testing.T) {
		rt1, rt2 := rotated(t, "spa", spaRedirect)
		wantError(t, h.refresh("spa", rt1, nil), http.StatusBadRequest, "invalid_grant")
		wantRevoked(t, rt2)
	})
	t.Run("live token, other key: refused, not revoked", func(t *testing.T) {
		_, rt2 := rotated(t, "spa", spaRedirect)
		wantError(t, h.refresh("spa", rt2, h.newSigner()), http.StatusBadRequest, "invalid_dpop_proof")
		wantToken(t, h.refresh("spa", rt2, s))
	})
	t.Run("unbound family stays strict", func(t *testing.T) {
		// web is confidential: its refresh tokens are bound to its
		// client authentication, not to a key, so there is no grace.
		rt1, rt2 := rotated(t, "web", webRedirect)
		if _, fam := h.familyOf(rt1); fam.JKT != "" || fam.CertThumbprint != "" {
			t.Fatalf("web's family is bound: %+v", fam)
		}
		wantError(t, h.refresh("web", rt1, s), http.StatusBadRequest, "invalid_grant")
		if _, fam := h.familyOf(rt2); !fam.Revoked() {
			t.Fatal("unbound family not revoked")
		}
	})
}

// TestRefreshReuseGraceOff: with tokens.refresh_token_reuse_grace 0 a
// re-presentation with the family's key revokes the family at once.
func TestRefreshReuseGraceOff(t *testing.T) {
	h := newHarness(t, func(c *configT) { c.Tokens.RefreshTokenReuseGrace = 0 })
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "spa", spaRedirect, nil)
	r := h.exchange("spa", c, v, spaRedirect, s)
	wantToken(t, r)
	rt1 := r.str("refresh_token")
	r = h.refresh("spa", rt1, s)
	wantToken(t, r)
	wantError(t, h.refresh("spa", rt1, s), http.StatusBadRequest, "invalid_grant")
	wantError(t, h.refresh("spa", r.str("refresh_token"), s), http.StatusBadRequest, "invalid_grant")
}

// TestRefreshReuseGraceMTLS: the grace applies to a certificate-bound
// family (RFC 8705 §3) with the same certificate; another certificate or
// none presenting the rotated token revokes the family.
func TestRefreshReuseGraceMTLS(t *testing.T) {
	e := newMTLSEnv(t)
	a := mtlstest.SelfSigned(t, mtlstest.Options{CommonName: "device-a"})
	b := mtlstest.SelfSigned(t, mtlstest.Options{CommonName: "device-b"})
	refresh := func(rt string) url.Values {
		return url.Values{"grant_type": {string(oauth.GrantRefreshToken)}, "client_id": {"pubm"}, "refresh_token": {rt}}
	}
	rotated := func(t *testing.T) (string, string) {
		t.Helper()
		code, verifier := e.h.code(e.h.newBrowser(), "pubm", spaRedirect, nil)
		r := e.post(e.url, a, PathToken, url.Values{"grant_type": {string(oauth.GrantAuthorizationCode)}, "client_id": {"pubm"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {spaRedirect}})
		wantBound(t, r, a)
		rt1 := r.str("refresh_token")
		r = e.post(e.url, a, PathToken, refresh(rt1))
		wantBound(t, r, a)
		return rt1, r.str("refresh_token")
	}
	t.Run("same certificate within grace", func(t *testing.T) {
		rt1, lost := rotated(t)
		r := e.post(e.url, a, PathToken, refresh(rt1))
		wantBound(t, r, a)
		wantBound(t, e.post(e.url, a, PathToken, refresh(r.str("refresh_token"))), a)
		if tok, _ := e.h.familyOf(lost); tok.RotatedAt.IsZero() {
			t.Fatal("the unused successor is still live")
		}
	})
	for name, cert := range map[string]*mtlstest.Cert{"other certificate (thief)": b, "no certificate (thief)": nil} {
		t.Run(name, func(t *testing.T) {
			rt1, rt2 := rotated(t)
			wantError(t, e.post(e.url, cert, PathToken, refresh(rt1)), http.StatusBadRequest, "invalid_grant")
			wantError(t, e.post(e.url, a, PathToken, refresh(rt2)), http.StatusBadRequest, "invalid_grant")
			if _, fam := e.h.familyOf(rt2); !fam.Revoked() {
				t.Fatal("family not revoked")
			}
		})
	}
}

// TestRefreshGraceRace: 20 concurrent re-presentations of one rotated
// token with its key (a client's retries) leave exactly one live refresh
// token in the family, whatever each of them got.
func TestRefreshGraceRace(t *testing.T) {
	h := newHarness(t)
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "spa", spaRedirect, nil)
	r := h.exchange("spa", c, v, spaRedirect, s)
	wantToken(t, r)
	rt1 := r.str("refresh_token")
	r = h.refresh("spa", rt1, s)
	wantToken(t, r)
	const n = 20
	proofs := make([]string, n)
	for i := range proofs {
		proofs[i] = h.proof(s)
	}
	got := make([]string, n+1)
	got[n] = r.str("refresh_token")
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}, "client_id": {"spa"}}
			req, _ := http.NewRequest(http.MethodPost, h.issuer+PathToken, strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("DPoP", proofs[i])
			rr := h.do(h.srv.Client(), req)
			got[i] = rr.str("refresh_token")
		})
	}
	wg.Wait()
	live := 0
	for _, rt := range got {
		if rt == "" {
			continue
		}
		if tok, fam := h.familyOf(rt); tok.RotatedAt.IsZero() && !fam.Revoked() {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("%d live refresh tokens after %d concurrent re-presentations, want 1", live, n)
	}
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
