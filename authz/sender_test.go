package authz

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
)

// downReplay is a DPoP replay store that cannot be reached.
type downReplay struct{}

func (downReplay) Use(context.Context, string, string, time.Time) error {
	return errors.New("replay store unreachable")
}

// TestDPoPReplayStoreDownIs503: when the server cannot check a proof for
// replay (its store unreachable), /token and /par answer 503
// temporarily_unavailable with Retry-After, as the resource middleware
// does (dpop.ProtocolError), never a token and never a 400 that tells the
// client its proof was wrong.
func TestDPoPReplayStoreDownIs503(t *testing.T) {
	h := newHarness(t)
	h.replay = downReplay{}
	h.s = h.newServer()
	h.srv.Config.Handler = h.s.Handler()
	check := func(t *testing.T, r *response) {
		t.Helper()
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("%d, Retry-After %q: %s; want 503 with Retry-After", r.status, r.header.Get("Retry-After"), r.body)
		}
		wantError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
	}
	t.Run("token", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {h.secrets["svc"]}}
		check(t, h.post(PathToken, form, "DPoP", h.proof(h.newSigner())))
	})
	t.Run("par", func(t *testing.T) {
		r, _ := h.pushDPoP(h.parProof(h.newSigner()), "")
		check(t, r)
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
