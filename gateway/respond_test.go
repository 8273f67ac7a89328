package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// leakEnv is a gateway whose events go to the token_leaked response over
// a real store holding the family fam-1 and its refresh token.
type leakEnv struct {
	*env
	em    *secevent.Emitter
	st    *sqlstore.Store
	rtSum []byte
}

func newLeakEnv(t *testing.T) *leakEnv {
	return newLeakEnvWith(t, nil, nil)
}

// newLeakEnvWith is newLeakEnv with the configuration and options
// modified as newEnvWith does.
func newLeakEnvWith(t *testing.T, mod func(*config.Gateway), opt func(*gateway.Options)) *leakEnv {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rt := sha256.Sum256([]byte("refresh-1"))
	fam := &store.Family{ID: "fam-1", ClientID: "app", Subject: "alice", Scope: "orders:read",
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := st.CreateFamily(t.Context(), fam, &store.RefreshToken{Hash: rt[:], FamilyID: "fam-1",
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	em := secevent.NewEmitter(secevent.Options{Sinks: []secevent.Sink{secevent.RevokeFamily{Store: st}}})
	e := newEnvWith(t, mod, func(o *gateway.Options) {
		o.Events = em
		if opt != nil {
			opt(o)
		}
	})
	return &leakEnv{env: e, em: em, st: st, rtSum: rt[:]}
}

// flushed runs the emitter's worker over what is queued and reports
// whether the family's refresh token is refused as revoked.
func (l *leakEnv) refreshRevoked(t *testing.T) bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = l.em.Run(ctx)
	next := sha256.Sum256([]byte("refresh-2"))
	_, err := l.st.RotateRefreshToken(t.Context(), l.rtSum, &store.RefreshToken{Hash: next[:], FamilyID: "fam-1",
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, time.Now())
	if err != nil && !errors.Is(err, store.ErrRevoked) {
		t.Fatalf("rotate: %v", err)
	}
	return err != nil
}

// TestLeakedTokenRevokesFamily: a DPoP-bound access token presented as
// Bearer, or with a proof for it by another key, revokes its family, so
// the family's refresh token is refused afterwards.
func TestLeakedTokenRevokesFamily(t *testing.T) {
	for name, present := range map[string]func(l *leakEnv, tok string){
		"as Bearer": func(l *leakEnv, tok string) {
			r := httptest.NewRequest("GET", publicURL+"/orders/1", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			l.gw.Handler().ServeHTTP(httptest.NewRecorder(), r)
		},
		"proof by another key": func(l *leakEnv, tok string) {
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			thief, _ := dpop.NewSigner(k, dpop.WithClock(func() time.Time { return testNow }))
			p, _ := thief.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
			send(l.env, tok, p)
		},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLeakEnv(t)
			present(l, l.token(map[string]any{"grant_id": "fam-1"}))
			if !l.refreshRevoked(t) {
				t.Error("the leaked token's refresh token is still accepted")
			}
		})
	}
}

// TestStrayErrorsDoNotRevoke: the legitimate client's stray errors (a
// retried proof, a skewed clock, a broken signature, a nonce round trip,
// a token of another issuer with the same grant_id) never revoke.
func TestStrayErrorsDoNotRevoke(t *testing.T) {
	for name, present := range map[string]func(l *leakEnv, tok string){
		"retry with the same proof": func(l *leakEnv, tok string) {
			p, _ := l.signer.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
			send(l.env, tok, p)
			send(l.env, tok, p)
		},
		"iat skewed by 10 minutes": func(l *leakEnv, tok string) {
			skewed, _ := dpop.NewSigner(l.ck, dpop.WithClock(func() time.Time { return testNow.Add(10 * time.Minute) }))
			p, _ := skewed.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
			send(l.env, tok, p)
		},
		"broken proof signature": func(l *leakEnv, tok string) {
			p, _ := l.signer.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
			send(l.env, tok, p[:len(p)-4]+"AAAA")
		},
		"proof for another token": func(l *leakEnv, tok string) {
			p, _ := l.signer.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken("another"))
			send(l.env, tok, p)
		},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLeakEnv(t)
			present(l, l.token(map[string]any{"grant_id": "fam-1"}))
			if l.refreshRevoked(t) {
				t.Error("a stray error revoked the family")
			}
		})
	}
}

// TestForeignIssuerLeakRevokesNothing: a leaked token of another issuer
// (here a Keycloak-shaped one) whose grant_id happens to name a Ward
// family revokes nothing: grant_id names a Ward family only in Ward's
// own tokens.
func TestForeignIssuerLeakRevokesNothing(t *testing.T) {
	kc := newForeignIDP(t)
	l := newLeakEnvWith(t, func(c *config.Gateway) {
		c.Issuer = ""
		c.Issuers = []config.GatewayIssuer{
			{Name: "ward", Issuer: issuerURL},
			{Name: "keycloak", Issuer: kc.srv.URL, Discovery: "oidc", TokenAlgorithms: []string{"RS256"}, Profile: "legacy-jwt"},
		}
		c.Routes[0].Issuers = []string{"keycloak"}
	}, func(o *gateway.Options) { o.Issuer = issuerURL })
	tok := kc.token(t, l.signer.Thumbprint(), map[string]any{"grant_id": "fam-1"})
	r := httptest.NewRequest("GET", publicURL+"/orders/1", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	l.gw.Handler().ServeHTTP(w, r)
	if w.Code != 401 {
		t.Fatalf("status %d %s", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if l.refreshRevoked(t) {
		t.Error("another issuer's token revoked a Ward family")
	}
}
