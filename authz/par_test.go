package authz

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/pkce"
)

// pushDPoP pushes an authorization request for web with an optional DPoP
// proof (sent as is) and dpop_jkt, and returns the answer and the
// verifier.
func (h *harness) pushDPoP(proof, jkt string) (*response, string) {
	h.t.Helper()
	v, _ := pkce.NewVerifier()
	p := authParams("web", webRedirect, pkce.Challenge(v))
	if jkt != "" {
		p.Set("dpop_jkt", jkt)
	}
	hdr := h.auth("web", p)
	if proof != "" {
		hdr = append(hdr, "DPoP", proof)
	}
	return h.post(PathPAR, p, hdr...), v
}

// parProof makes a proof for the PAR endpoint.
func (h *harness) parProof(s *dpop.Signer, opts ...dpop.ProofOption) string {
	h.t.Helper()
	p, err := s.Proof(http.MethodPost, h.issuer+PathPAR, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// codeFromPAR runs the browser flow of a pushed request and returns the
// code.
func (h *harness) codeFromPAR(r *response) string {
	h.t.Helper()
	if r.status != http.StatusCreated {
		h.t.Fatalf("PAR: %d %s", r.status, r.body)
	}
	q := h.authorize(h.newBrowser(), url.Values{"client_id": {"web"}, "request_uri": {r.str("request_uri")}})
	if q.Get("code") == "" {
		h.t.Fatalf("no code: %v", q)
	}
	return q.Get("code")
}

// TestPARDPoP: a DPoP proof at the PAR endpoint is verified like one at
// the token endpoint (htu the PAR endpoint, replay, nonces) and binds the
// code to its key like dpop_jkt (RFC 9449 §10.1).
func TestPARDPoP(t *testing.T) {
	h := newHarness(t)
	k1, k2 := h.newSigner(), h.newSigner()
	redeem := func(t *testing.T, code, v string, s *dpop.Signer) {
		t.Helper()
		r := h.exchange("web", code, v, webRedirect, s)
		wantToken(t, r)
		if _, cl := decodeJWT(t, r.str("access_token")); cl["cnf"].(map[string]any)["jkt"] != k1.Thumbprint() {
			t.Fatalf("token bound to %v, want %s", cl["cnf"], k1.Thumbprint())
		}
	}
	t.Run("proof binds the code", func(t *testing.T) {
		r, v := h.pushDPoP(h.parProof(k1), "")
		code := h.codeFromPAR(r)
		wantError(t, h.exchange("web", code, v, webRedirect, k2), http.StatusBadRequest, "invalid_dpop_proof")
		wantError(t, h.exchange("web", code, v, webRedirect, nil), http.StatusBadRequest, "invalid_dpop_proof")
		redeem(t, code, v, k1)
	})
	t.Run("proof and dpop_jkt of another key", func(t *testing.T) {
		r, _ := h.pushDPoP(h.parProof(k1), k2.Thumbprint())
		wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("htu of the token endpoint", func(t *testing.T) {
		r, _ := h.pushDPoP(h.proof(k1), "")
		wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("htm GET", func(t *testing.T) {
		p, err := k1.Proof(http.MethodGet, h.issuer+PathPAR)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := h.pushDPoP(p, "")
		wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("replayed proof", func(t *testing.T) {
		p := h.parProof(k1)
		if r, _ := h.pushDPoP(p, ""); r.status != http.StatusCreated {
			t.Fatalf("first use: %d %s", r.status, r.body)
		}
		r, _ := h.pushDPoP(p, "")
		wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("proof only", func(t *testing.T) {
		r, v := h.pushDPoP(h.parProof(k1), "")
		redeem(t, h.codeFromPAR(r), v, k1)
	})
	t.Run("dpop_jkt only", func(t *testing.T) {
		r, v := h.pushDPoP("", k1.Thumbprint())
		redeem(t, h.codeFromPAR(r), v, k1)
	})
	t.Run("proof and dpop_jkt agreeing", func(t *testing.T) {
		r, v := h.pushDPoP(h.parProof(k1), k1.Thumbprint())
		redeem(t, h.codeFromPAR(r), v, k1)
	})
}

// TestPARDPoPNonce: with nonces on, a proof at PAR without one gets the
// use_dpop_nonce challenge with a DPoP-Nonce header, and a success
// carries a fresh nonce (RFC 9449 §8).
func TestPARDPoPNonce(t *testing.T) {
	h := newHarness(t, func(c *configT) { c.DPoP.Nonce.Enabled = true })
	s := h.newSigner()
	r, _ := h.pushDPoP(h.parProof(s), "")
	wantError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	n := r.header.Get("DPoP-Nonce")
	if n == "" {
		t.Fatal("use_dpop_nonce without a DPoP-Nonce header")
	}
	r, _ = h.pushDPoP(h.parProof(s, dpop.WithNonce("bogus")), "")
	wantError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	r, _ = h.pushDPoP(h.parProof(s, dpop.WithNonce(n)), "")
	if r.status != http.StatusCreated || r.header.Get("DPoP-Nonce") == "" {
		t.Fatalf("with the nonce: %d %s, DPoP-Nonce %q", r.status, r.body, r.header.Get("DPoP-Nonce"))
	}
}
