package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/secevent"
)

// recorder is an emitter whose sink keeps what it is given.
type recorder struct {
	em  *secevent.Emitter
	mu  sync.Mutex
	got []secevent.Event
}

func newRecorder() *recorder {
	r := &recorder{}
	r.em = secevent.NewEmitter(secevent.Options{Instance: "test", Sinks: []secevent.Sink{
		secevent.SinkFunc(func(_ context.Context, evs []secevent.Event) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.got = append(r.got, evs...)
			return nil
		})}})
	return r
}

// events flushes the queue and returns what was emitted since the last call.
func (r *recorder) events() []secevent.Event {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = r.em.Run(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

func newEventsEnv(t *testing.T, nonces dpop.NonceSource) (*env, *recorder) {
	rec := newRecorder()
	e := newEnvWith(t, nil, func(o *gateway.Options) { o.Events = rec.em; o.Nonces = nonces })
	return e, rec
}

// The two refusals that prove a leak emit token_leaked with the token's
// family, client, subject and key, and nothing else in the event.
func TestEventsTokenLeaked(t *testing.T) {
	e, rec := newEventsEnv(t, nil)
	tok := e.token(map[string]any{"grant_id": "fam-1"})

	r := httptest.NewRequest("GET", publicURL+"/orders/1", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, r)
	if w.Code != 401 {
		t.Fatalf("DPoP-bound token as Bearer: %d", w.Code)
	}
	// A valid proof for this very token (ath), signed by another key.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	thief, _ := dpop.NewSigner(other, dpop.WithClock(func() time.Time { return testNow }))
	p, _ := thief.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
	r = httptest.NewRequest("GET", publicURL+"/orders/1", nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", p)
	w = httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, r)
	if w.Code != 401 {
		t.Fatalf("proof by another key: %d", w.Code)
	}
	got := rec.events()
	if len(got) != 2 {
		t.Fatalf("events %+v, want 2", got)
	}
	for i, reason := range []string{"dpop_token_as_bearer", "jkt_mismatch"} {
		ev := got[i]
		if ev.Type != secevent.TokenLeaked || ev.Reason != reason || ev.FamilyID != "fam-1" || ev.ClientID != "app" ||
			ev.Subject != "alice" || ev.JKT != e.signer.Thumbprint() || ev.Route != "orders" || ev.ClientAddr != "192.0.2.1" ||
			ev.Severity != secevent.Critical {
			t.Errorf("event %d = %+v", i, ev)
		}
		if strings.Contains(ev.Reason+ev.FamilyID+ev.JKT, "eyJ") {
			t.Errorf("event %d carries a token", i)
		}
	}
}

// The refusals a legitimate client causes by one stray error are no leak:
// a retry after a network error (the same proof again), a clock skew on
// iat, a broken proof signature, a nonce round trip. None emits
// token_leaked, so none can revoke a family.
func TestEventsNoLeakOnStrayErrors(t *testing.T) {
	nonces, err := dpop.NewStatelessNonces("gw", time.Minute, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		nonces bool
		send   func(e *env, tok string) int
		want   secevent.Type // "" for no event
	}{
		{"retry with the same proof", false, func(e *env, tok string) int {
			p, _ := e.signer.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
			send(e, tok, p)
			return send(e, tok, p)
		}, secevent.ProofReplayed},
		{"iat skewed by 10 minutes", false, func(e *env, tok string) int {
			skewed, _ := dpop.NewSigner(e.ck, dpop.WithClock(func() time.Time { return testNow.Add(-10 * time.Minute) }))
			p, _ := skewed.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
			return send(e, tok, p)
		}, ""},
		{"broken proof signature", false, func(e *env, tok string) int {
			p, _ := e.signer.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
			return send(e, tok, p[:len(p)-4]+"AAAA")
		}, ""},
		{"nonce round trip", true, func(e *env, tok string) int {
			p, _ := e.signer.Proof("GET", publicURL+"/orders/1", dpop.WithAccessToken(tok))
			return send(e, tok, p) // no nonce yet: 401 use_dpop_nonce
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ns dpop.NonceSource
			if c.nonces {
				ns = nonces
			}
			e, rec := newEventsEnv(t, ns)
			if code := c.send(e, e.token(map[string]any{"grant_id": "fam-1"})); code != 401 {
				t.Fatalf("status %d, want 401", code)
			}
			got := rec.events()
			if c.want != "" && len(got) == 0 {
				t.Errorf("no %s event", c.want)
			}
			for _, ev := range got {
				if ev.Type == secevent.TokenLeaked || ev.Type != c.want {
					t.Errorf("event %+v, want only %q", ev, c.want)
				}
			}
		})
	}
}

// An accepted request emits nothing.
func TestEventsNoneWhenAccepted(t *testing.T) {
	e, rec := newEventsEnv(t, nil)
	if w := e.call("GET", "/orders/1", e.token(nil), nil); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if got := rec.events(); len(got) != 0 {
		t.Errorf("an accepted request emitted %+v", got)
	}
}

func send(e *env, tok, proof string) int {
	r := httptest.NewRequest("GET", publicURL+"/orders/1", nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", proof)
	w := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(w, r)
	return w.Code
}
