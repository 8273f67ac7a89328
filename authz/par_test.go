package authz

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
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

// TestPAR: pushed requests are used once, expire, belong to the pushing
// client; PAR can be required per client and globally (RFC 9126).
func TestPAR(t *testing.T) {
	h := newHarness(t)
	v, _ := pkce.NewVerifier()
	push := func(client string, p url.Values) *response {
		return h.post(PathPAR, p, h.auth(client, p)...)
	}
	t.Run("single use", func(t *testing.T) {
		r := push("web", authParams("web", webRedirect, pkce.Challenge(v)))
		if r.status != http.StatusCreated || !strings.HasPrefix(r.str("request_uri"), requestURIPrefix) || r.json["expires_in"] == nil {
			t.Fatalf("PAR: %d %s", r.status, r.body)
		}
		q := url.Values{"client_id": {"web"}, "request_uri": {r.str("request_uri")}}
		b := h.newBrowser()
		code := h.authorize(b, q)
		if code.Get("code") == "" || code.Get("state") != "st-web" {
			t.Fatalf("got %v", code)
		}
		again := b.get(h.issuer + PathAuthorize + "?" + q.Encode())
		if again.status != http.StatusBadRequest || !bytes.Contains(again.body, []byte("invalid_request_uri")) {
			t.Fatalf("second use: %d %s", again.status, again.body)
		}
	})
	t.Run("expired", func(t *testing.T) {
		r := push("web", authParams("web", webRedirect, pkce.Challenge(v)))
		h.clk.Advance(61e9)
		q := url.Values{"client_id": {"web"}, "request_uri": {r.str("request_uri")}}
		if got := h.newBrowser().get(h.issuer + PathAuthorize + "?" + q.Encode()); got.status != http.StatusBadRequest {
			t.Fatalf("expired request_uri: %d", got.status)
		}
	})
	t.Run("other client", func(t *testing.T) {
		r := push("web", authParams("web", webRedirect, pkce.Challenge(v)))
		q := url.Values{"client_id": {"post"}, "request_uri": {r.str("request_uri")}}
		if got := h.newBrowser().get(h.issuer + PathAuthorize + "?" + q.Encode()); got.status != http.StatusBadRequest || got.header.Get("Location") != "" {
			t.Fatalf("request_uri of another client: %d", got.status)
		}
		// The refusal did not use the request up: its owner still can.
		q.Set("client_id", "web")
		if code := h.authorize(h.newBrowser(), q); code.Get("code") == "" {
			t.Fatalf("owner after another client's attempt: %v", code)
		}
	})
	t.Run("validated at push", func(t *testing.T) {
		p := authParams("web", webRedirect, "")
		wantError(t, push("web", p), http.StatusBadRequest, "invalid_request")
		wantError(t, push("web", authParams("web", "https://evil.example/", pkce.Challenge(v))), http.StatusBadRequest, "invalid_request")
		wrong := authParams("web", webRedirect, pkce.Challenge(v))
		wrong.Set("client_secret", "wrong")
		wantError(t, h.post(PathPAR, wrong), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("required per client", func(t *testing.T) {
		q := redirectQuery(t, h.newBrowser().get(h.issuer+PathAuthorize+"?"+authParams("paronly", spaRedirect, pkce.Challenge(v)).Encode()))
		if q.Get("error") != "invalid_request" || q.Get("iss") != h.issuer {
			t.Fatalf("got %v", q)
		}
		r := push("paronly", authParams("paronly", spaRedirect, pkce.Challenge(v)))
		if code := h.authorize(h.newBrowser(), url.Values{"client_id": {"paronly"}, "request_uri": {r.str("request_uri")}}); code.Get("code") == "" {
			t.Fatalf("got %v", code)
		}
	})
}

func TestPARRequiredGlobally(t *testing.T) {
	h := newHarness(t, func(c *configT) { c.PAR.Required = true })
	v, _ := pkce.NewVerifier()
	q := redirectQuery(t, h.newBrowser().get(h.issuer+PathAuthorize+"?"+authParams("web", webRedirect, pkce.Challenge(v)).Encode()))
	if q.Get("error") != "invalid_request" {
		t.Fatalf("got %v", q)
	}
	if !h.s.Metadata().RequirePushedAuthorizationRequests {
		t.Error("metadata does not advertise required PAR")
	}
}
