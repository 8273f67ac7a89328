package authz

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/secevent"
)

// withEvents restarts h's server with an emitter and returns a function
// that flushes it and returns what it received.
func withEvents(h *harness) func() []secevent.Event {
	var mu sync.Mutex
	var got []secevent.Event
	h.events = secevent.NewEmitter(secevent.Options{Sinks: []secevent.Sink{
		secevent.SinkFunc(func(_ context.Context, evs []secevent.Event) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, evs...)
			return nil
		})}})
	h.s = h.newServer()
	h.srv.Config.Handler = h.s.Handler()
	return func() []secevent.Event {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = h.events.Run(ctx)
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
}

func onlyEvent(t *testing.T, got []secevent.Event, typ secevent.Type) secevent.Event {
	t.Helper()
	if len(got) != 1 || got[0].Type != typ {
		t.Fatalf("events %+v, want one %s", got, typ)
	}
	return got[0]
}

func TestEventsRefreshReplayed(t *testing.T) {
	h := newHarness(t)
	events := withEvents(h)
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	r := h.exchange("web", c, v, webRedirect, s)
	rt1 := r.str("refresh_token")
	onlyEvent(t, events(), secevent.ConsentGranted)
	wantToken(t, h.refresh("web", rt1, s))
	if got := events(); len(got) != 0 {
		t.Fatalf("a normal refresh emitted %+v", got)
	}
	wantError(t, h.refresh("web", rt1, s), http.StatusBadRequest, "invalid_grant")
	ev := onlyEvent(t, events(), secevent.RefreshReplayed)
	if ev.ClientID != "web" || ev.Subject != "u-alice" || ev.FamilyID == "" ||
		ev.ClientAddr == "" || ev.Severity != secevent.Critical || strings.Contains(ev.Reason, rt1) {
		t.Errorf("event %+v", ev)
	}
}

func TestEventsCodeReplayed(t *testing.T) {
	h := newHarness(t)
	events := withEvents(h)
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	wantToken(t, h.exchange("web", c, v, webRedirect, s))
	onlyEvent(t, events(), secevent.ConsentGranted)
	wantError(t, h.exchange("web", c, v, webRedirect, s), http.StatusBadRequest, "invalid_grant")
	ev := onlyEvent(t, events(), secevent.CodeReplayed)
	if ev.ClientID != "web" || ev.Subject != "u-alice" || ev.FamilyID == "" {
		t.Errorf("event %+v", ev)
	}
}

// A wrong password is a login_failed event without the typed username;
// the failure that locks the account adds account_locked.
func TestEventsLoginFailed(t *testing.T) {
	h := newHarness(t, func(c *configT) {
		c.RateLimits.LoginFailures.Account.Free = 1
		c.RateLimits.LoginFailures.Account.LockAfter = 2
	})
	events := withEvents(h)
	v, _ := pkce.NewVerifier()
	b := h.newBrowser()
	start := func() *response {
		return b.get(h.issuer + PathAuthorize + "?" + authParams("web", webRedirect, pkce.Challenge(v)).Encode())
	}
	if r := b.login(start(), "alice", "wrong-password-1"); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", r.status)
	}
	ev := onlyEvent(t, events(), secevent.LoginFailed)
	if ev.ClientID != "web" || ev.Subject != "" || ev.ClientAddr == "" || strings.Contains(ev.Reason, "alice") {
		t.Errorf("event %+v", ev)
	}
	h.clk.Advance(2 * 60e9) // past the backoff
	b.login(start(), "alice", "wrong-password-2")
	got := events()
	if len(got) != 2 || got[0].Type != secevent.LoginFailed || got[1].Type != secevent.AccountLocked {
		t.Errorf("second failure: %+v, want login_failed and account_locked", got)
	}
}

// A proof replayed at /token is a proof_replayed event; a missing nonce
// or a first proof is none.
func TestEventsProofReplayedAtToken(t *testing.T) {
	h := newHarness(t)
	events := withEvents(h)
	cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {"post"}, "client_secret": {h.secrets["post"]}}
	proof := h.proof(h.newSigner())
	wantToken(t, h.post(PathToken, cc, "DPoP", proof))
	if got := events(); len(got) != 0 {
		t.Fatalf("a token request emitted %+v", got)
	}
	wantError(t, h.post(PathToken, cc, "DPoP", proof), http.StatusBadRequest, "invalid_dpop_proof")
	ev := onlyEvent(t, events(), secevent.ProofReplayed)
	if ev.Reason != "replayed" || ev.ClientAddr == "" {
		t.Errorf("event %+v", ev)
	}
}

func TestEventsConsent(t *testing.T) {
	h := newHarness(t)
	events := withEvents(h)
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	wantToken(t, h.exchange("web", c, v, webRedirect, h.newSigner()))
	ev := onlyEvent(t, events(), secevent.ConsentGranted)
	if ev.ClientID != "web" || ev.Subject != "u-alice" || ev.Reason == "" {
		t.Errorf("event %+v", ev)
	}
	if err := h.s.RevokeConsent(context.Background(), "u-alice", "web"); err != nil {
		t.Fatal(err)
	}
	ev = onlyEvent(t, events(), secevent.ConsentRevoked)
	if ev.ClientID != "web" || ev.Subject != "u-alice" {
		t.Errorf("event %+v", ev)
	}
}
