package gateway_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/demo"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/revocation"
)

// newEnvRevocations is newEnv with a revocation set.
func newEnvRevocations(t *testing.T, set *revocation.Set) *env {
	t.Helper()
	e := newEnv(t, nil)
	var err error
	e.gw, err = gateway.New(&e.cfg, gateway.Options{
		Clock:       func() time.Time { return testNow },
		Keys:        resource.StaticKeys{Keys: []jose.JSONWebKey{{Key: &e.key.PublicKey, KeyID: "k1", Algorithm: "ES256"}}},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Revocations: set,
		Upstreams:   demo.Builtins(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestRevokedTokenRefused: a token the gateway accepted (and cached) is
// refused once its jti, or its grant, is in the revocation set: 401
// invalid_token with a description, reason revoked in the metrics, the
// upstream not reached. Other tokens pass.
func TestRevokedTokenRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry revocation.Entry
	}{
		{"by_jti", revocation.Entry{JTI: "t1"}},
		{"by_grant", revocation.Entry{GrantID: "g1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := revocation.NewSet(revocation.SetOptions{Clock: func() time.Time { return testNow }})
			set.MarkSynced()
			e := newEnvRevocations(t, set)
			tok := e.token(map[string]any{"grant_id": "g1"})
			other := e.token(map[string]any{"jti": "t2", "grant_id": "g2"})
			if w := e.call("GET", "/orders/1", tok, nil); w.Code != http.StatusOK {
				t.Fatalf("before revocation: %d %s", w.Code, w.Body)
			}
			e.upstreamSaw()
			tc.entry.RevokedAt, tc.entry.Expires = testNow, testNow.Add(time.Hour)
			set.Add([]revocation.Entry{tc.entry})
			w := e.call("GET", "/orders/1", tok, nil)
			ch := w.Header().Get("WWW-Authenticate")
			if w.Code != http.StatusUnauthorized || !strings.Contains(ch, `error="invalid_token"`) || !strings.Contains(ch, `error_description="the access token has been revoked"`) {
				t.Fatalf("revoked token: %d %q", w.Code, ch)
			}
			if h := e.upstreamSaw(); h != nil {
				t.Fatal("the upstream was reached with a revoked token")
			}
			if m := e.metrics(); !strings.Contains(m, `ward_gateway_rejections_total{error="invalid_token",reason="revoked"} 1`) {
				t.Errorf("metrics:\n%s", grep(m, "rejections"))
			}
			if w := e.call("GET", "/orders/1", other, nil); w.Code != http.StatusOK {
				t.Fatalf("another token: %d %s", w.Code, w.Body)
			}
		})
	}
}

// TestRevocationFeedStale: a set that never synced, or has not for
// longer than its bound, makes /readyz fail and every token get 503
// temporarily_unavailable (fail closed); with ServeStale, /readyz says so
// but stays ready and tokens are served.
func TestRevocationFeedStale(t *testing.T) {
	now := testNow
	clock := func() time.Time { return now }
	for _, serve := range []bool{false, true} {
		set := revocation.NewSet(revocation.SetOptions{Clock: clock, StaleAfter: 10 * time.Second, ServeStale: serve})
		e := newEnvRevocations(t, set)
		tok := e.token(nil)
		readyz := func() (int, string) {
			w := httptest.NewRecorder()
			e.gw.AdminHandler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
			return w.Code, w.Body.String()
		}
		set.MarkSynced()
		if code, body := readyz(); code != http.StatusOK || !strings.HasPrefix(body, "ready\n") { // then the issuers' lines
			t.Fatalf("serve=%v fresh: /readyz %d %q", serve, code, body)
		}
		now = now.Add(11 * time.Second) // the set's clock only
		code, body := readyz()
		w := e.call("GET", "/orders/1", tok, nil)
		switch {
		case !strings.Contains(body, "revocation feed stale"):
			t.Errorf("serve=%v stale: /readyz %q does not say the feed is stale", serve, body)
		case !serve && (code != http.StatusServiceUnavailable || w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Header().Get("WWW-Authenticate"), "temporarily_unavailable")):
			t.Errorf("fail closed: /readyz %d, request %d %q", code, w.Code, w.Header().Get("WWW-Authenticate"))
		case serve && (code != http.StatusOK || w.Code != http.StatusOK):
			t.Errorf("serve stale: /readyz %d, request %d", code, w.Code)
		}
		now = testNow
	}
}

// TestRevocationsOnlyForWardsIssuer: the revocation feed is Ward's own
// issuer's; a stale (never synced) feed fails Ward's tokens closed but
// not a foreign issuer's, whose revocations it cannot know.
func TestRevocationsOnlyForWardsIssuer(t *testing.T) {
	kc := newForeignIDP(t)
	set := revocation.NewSet(revocation.SetOptions{Clock: func() time.Time { return testNow }, StaleAfter: 10 * time.Second})
	e := newEnvWith(t, func(c *config.Gateway) {
		c.Issuers = []config.GatewayIssuer{
			{Name: "ward", Issuer: issuerURL},
			{Name: "keycloak", Issuer: kc.srv.URL, Discovery: "oidc", TokenAlgorithms: []string{"RS256"}, Profile: "legacy-jwt"},
		}
		c.Routes[0].Issuers = []string{"ward"}
		c.Routes = append(c.Routes, config.Route{Name: "kc", PathPrefix: "/kc/", Upstream: c.Routes[0].Upstream, Issuers: []string{"keycloak"},
			Policy: []config.PolicyRule{{Action: "allow", Principals: []string{"client:app"}, Scopes: []string{"orders:read"}}}})
	}, func(o *gateway.Options) { o.Revocations = set })
	if w := e.call("GET", "/kc/1", kc.token(t, e.signer.Thumbprint()), nil); w.Code != http.StatusOK {
		t.Fatalf("foreign token while Ward's feed is stale: %d %s", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}
