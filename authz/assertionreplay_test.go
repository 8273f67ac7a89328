package authz

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/store/redisstore"
)

// proofJTI reads the jti of a DPoP proof the test signed.
func proofJTI(t *testing.T, proof string) string {
	t.Helper()
	parts := strings.Split(proof, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.JTI == "" {
		t.Fatalf("proof claims %s: %v", raw, err)
	}
	return c.JTI
}

// TestClientAssertionReplayAcrossInstances: two authorization servers
// sharing a Redis replay store (as ward serve runs them in the scale-out
// shape) accept a client assertion once: replayed at the second, it is
// refused (RFC 7523 §3 item 7). The first request carries a DPoP proof
// whose jti is the assertion's: both are accepted, the assertion's key in
// the replay store is not the proof's (assertionReplayKey).
func TestClientAssertionReplayAcrossInstances(t *testing.T) {
	addr, _, prefix := wardtest.Redis(t, "authz-assertion")
	h := newHarness(t)
	servers := make([]*Server, 2)
	for i := range servers {
		rs, err := redisstore.New(redisstore.Config{Addr: addr, Prefix: prefix}) // one client per process
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Close() })
		h.replay = rs
		servers[i] = h.newServer()
	}
	post := func(s *Server, assertion, proof string) *httptest.ResponseRecorder {
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType}, "client_assertion": {assertion}}
		req := httptest.NewRequest(http.MethodPost, h.issuer+PathToken, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", proof)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	now := h.clk.Now()
	signer := h.newSigner()
	proof := h.proof(signer)
	assertion := h.signedAssertion(map[string]any{"iss": "jwt", "sub": "jwt", "aud": h.issuer, "jti": proofJTI(t, proof),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	if rec := post(servers[0], assertion, proof); rec.Code != http.StatusOK {
		t.Fatalf("first use, with a proof of the same jti: %d %s", rec.Code, rec.Body)
	}
	rec := post(servers[1], assertion, h.proof(signer))
	if rec.Code != http.StatusUnauthorized || !bytes.Contains(rec.Body.Bytes(), []byte(`"invalid_client"`)) ||
		!bytes.Contains(rec.Body.Bytes(), []byte("jti replay")) {
		t.Fatalf("replay at the second instance: %d %s", rec.Code, rec.Body)
	}
}

// TestClientAssertionReplayKey: in one replay store, an assertion's jti
// does not collide with a DPoP proof's of the same jti, even for a
// client_id equal to the proof key's thumbprint, nor with another
// client's; the same client and jti twice is a replay.
func TestClientAssertionReplayKey(t *testing.T) {
	ctx := context.Background()
	st := dpop.NewMemoryReplayStore(0, nil)
	exp := time.Now().Add(time.Minute)
	jkt := "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" // an RFC 7638 thumbprint
	use := func(k, jti string) error { return st.Use(ctx, k, jti, exp) }
	for _, step := range []struct {
		name, key, jti string
		seen           bool
	}{
		{"DPoP proof", jkt, "j", false},
		{"assertion of a client named as the thumbprint", assertionReplayKey(jkt), "j", false},
		{"assertion of client a:b", assertionReplayKey("a:b"), "j", false},
		{"assertion of client a", assertionReplayKey("a"), "j", false},
		{"assertion of client a:b again", assertionReplayKey("a:b"), "j", true},
	} {
		err := use(step.key, step.jti)
		if step.seen != (err == dpop.ErrSeen) || (!step.seen && err != nil) {
			t.Errorf("%s: %v", step.name, err)
		}
	}
	if k := assertionReplayKey("a"); k == assertionReplayKey("a:") || strings.HasPrefix(jkt, k) {
		t.Errorf("assertionReplayKey(a) = %q is not distinct", k)
	}
}

// TestClientAssertionReplayInStore: with Options.AssertionJTIsInStore
// (ward serve on PostgreSQL without Redis), an assertion's jti is a row of
// the shared store, so a second instance with its own in-memory replay
// store refuses it; without the option that second instance accepts it
// (the per-instance memory the option exists to avoid).
func TestClientAssertionReplayInStore(t *testing.T) {
	for _, inStore := range []bool{true, false} {
		h := newHarness(t)
		h.assertionsInStore = inStore
		servers := []*Server{h.newServer(), h.newServer()} // each its own memory replay store
		now := h.clk.Now()
		signer := h.newSigner()
		assertion := h.signedAssertion(map[string]any{"iss": "jwt", "sub": "jwt", "aud": h.issuer, "jti": "shared-jti",
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
		codes := make([]int, 2)
		for i, s := range servers {
			form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {assertionType}, "client_assertion": {assertion}}
			req := httptest.NewRequest(http.MethodPost, h.issuer+PathToken, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("DPoP", h.proof(signer))
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			codes[i] = rec.Code
		}
		want := []int{http.StatusOK, http.StatusUnauthorized}
		if !inStore {
			want[1] = http.StatusOK
		}
		if codes[0] != want[0] || codes[1] != want[1] {
			t.Errorf("in store %v: answers %v, want %v", inStore, codes, want)
		}
	}
}
