package authz

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

const pushGW = "https://gw-a.ward.test"

// pushHarness is a server with events.receive on for the gateway pushGW,
// whose key it returns; events are stored and token_leaked revokes the
// family, as `ward serve` wires them.
func pushHarness(t *testing.T, opts ...func(*config.Config)) (*harness, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(t.TempDir(), "gw-a.pub.pem")
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *config.Config) {
		c.Events.Receive = config.EventReceive{Enabled: true,
			Senders: []config.EventSender{{Issuer: pushGW, PublicKeyFile: pubFile}}}
		for _, o := range opts {
			o(c)
		}
	})
	h.events = secevent.NewEmitter(secevent.Options{Sinks: []secevent.Sink{
		secevent.StoreSink{Store: h.st}, secevent.RevokeFamily{Store: h.st}}})
	h.s = h.newServer()
	h.srv.Config.Handler = h.s.Handler()
	return h, key
}

// pushSET signs ev as gateway pushGW would and POSTs it.
func (h *harness) pushSET(key *ecdsa.PrivateKey, ev secevent.Event, tokenIss string) *response {
	h.t.Helper()
	sg, err := secevent.NewSETSigner(key, pushGW, h.issuer)
	if err != nil {
		h.t.Fatal(err)
	}
	set, err := sg.Sign(ev, tokenIss, h.clk.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return h.postSET(set, secevent.SETMediaType)
}

func (h *harness) postSET(set, ct string) *response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.issuer+PathEventsPush, strings.NewReader(set))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	return h.do(h.srv.Client(), req)
}

// A valid push from a configured gateway stores the event and revokes the
// family: the family's refresh token is then refused.
func TestEventsPushRevokesFamily(t *testing.T) {
	h, key := pushHarness(t)
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	r := h.exchange("web", c, v, webRedirect, s)
	rt := r.str("refresh_token")
	_, claims := decodeJWT(t, r.str("access_token"))
	family, _ := claims["grant_id"].(string)
	if family == "" {
		t.Fatal("no grant_id in the access token")
	}
	ev := secevent.Event{Time: h.clk.Now(), Type: secevent.TokenLeaked, Instance: "gw-a", ClientID: "web",
		Subject: "u-alice", FamilyID: family, Reason: "dpop_token_as_bearer", ClientAddr: "192.0.2.7"}
	if got := h.pushSET(key, ev, h.issuer); got.status != http.StatusAccepted {
		t.Fatalf("push: %d %s", got.status, got.body)
	}
	wantError(t, h.refresh("web", rt, s), http.StatusBadRequest, "invalid_grant")
	rows, err := h.st.ListEvents(context.Background(), store.EventFilter{Types: []string{"token_leaked"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].FamilyID != family || rows[0].Instance != "gw-a" || rows[0].ClientAddr != "192.0.2.7" {
		t.Errorf("stored %+v", rows)
	}
}

// A token of another issuer names no family of this server: the event is
// stored without it and nothing is revoked.
func TestEventsPushForeignIssuerRevokesNothing(t *testing.T) {
	h, key := pushHarness(t)
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	r := h.exchange("web", c, v, webRedirect, s)
	_, claims := decodeJWT(t, r.str("access_token"))
	family, _ := claims["grant_id"].(string)
	ev := secevent.Event{Type: secevent.TokenLeaked, FamilyID: family, Reason: "jkt_mismatch"}
	if got := h.pushSET(key, ev, "https://other-idp.example"); got.status != http.StatusAccepted {
		t.Fatalf("push: %d %s", got.status, got.body)
	}
	wantToken(t, h.refresh("web", r.str("refresh_token"), s))
	rows, _ := h.st.ListEvents(context.Background(), store.EventFilter{Types: []string{"token_leaked"}})
	if len(rows) != 1 || rows[0].FamilyID != "" {
		t.Errorf("stored %+v", rows)
	}
}

// Refused pushes answer 400 with the RFC 8935 §2.4 code, and revoke
// nothing: another gateway's key, a replayed SET, the wrong media type,
// an oversized body, a SET for another audience.
func TestEventsPushRefused(t *testing.T) {
	h, key := pushHarness(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ev := secevent.Event{Type: secevent.TokenLeaked, FamilyID: "hVb2n1Kx0c9R_eT3uQw-3A"}
	sg, _ := secevent.NewSETSigner(key, pushGW, h.issuer)
	set, _ := sg.Sign(ev, h.issuer, h.clk.Now())
	if got := h.postSET(set, secevent.SETMediaType); got.status != http.StatusAccepted {
		t.Fatalf("first push: %d %s", got.status, got.body)
	}
	otherAud, _ := secevent.NewSETSigner(key, pushGW, "https://other-as.example")
	setOther, _ := otherAud.Sign(ev, h.issuer, h.clk.Now())
	for name, c := range map[string]struct {
		resp func() *response
		code string
	}{
		"wrong key":  {func() *response { return h.pushSET(other, ev, h.issuer) }, secevent.ErrAuthentication},
		"replayed":   {func() *response { return h.postSET(set, secevent.SETMediaType) }, secevent.ErrInvalidRequest},
		"media type": {func() *response { return h.postSET(set, "application/jwt") }, secevent.ErrInvalidRequest},
		"oversized":  {func() *response { return h.postSET(strings.Repeat("a", 1<<20), secevent.SETMediaType) }, secevent.ErrInvalidRequest},
		"other aud":  {func() *response { return h.postSET(setOther, secevent.SETMediaType) }, secevent.ErrInvalidAudience},
	} {
		t.Run(name, func(t *testing.T) {
			got := c.resp()
			if got.status != http.StatusBadRequest || got.str("err") != c.code || got.str("description") == "" {
				t.Errorf("%d %s, want 400 err %s", got.status, got.body, c.code)
			}
		})
	}
}

// TestEventsPushRateLimited: rate_limits.events_push.ip is spent before
// the SET is read or verified: forged SETs spend it, and once it is spent
// even a valid SET is refused with 429, Retry-After and the RFC 8935
// error format, counted under endpoint events_push, tier ip.
func TestEventsPushRateLimited(t *testing.T) {
	h, key := pushHarness(t, func(c *config.Config) {
		c.RateLimits.EventsPush.IP = config.Rate{Rate: 2, Period: time.Hour, Burst: 2}
	})
	for i := range 2 {
		if got := h.postSET("x.y.z", secevent.SETMediaType); got.status != http.StatusBadRequest {
			t.Fatalf("forged SET %d: %d %s, want 400", i, got.status, got.body)
		}
	}
	got := h.pushSET(key, secevent.Event{Type: secevent.TokenLeaked, FamilyID: "hVb2n1Kx0c9R_eT3uQw-3A"}, h.issuer)
	if got.status != http.StatusTooManyRequests || got.str("err") != "rate_limited" || got.header.Get("Retry-After") == "" {
		t.Fatalf("valid SET after the allowance: %d %s Retry-After %q, want 429 rate_limited", got.status, got.body, got.header.Get("Retry-After"))
	}
	if !strings.Contains(h.metricsText(), `ward_authz_rate_limited_total{endpoint="events_push",tier="ip"} 1`) {
		t.Error("the 429 is not counted")
	}
}

// Without events.receive the endpoint does not exist.
func TestEventsPushOffByDefault(t *testing.T) {
	h := newHarness(t)
	if got := h.postSET("x.y.z", secevent.SETMediaType); got.status != http.StatusNotFound {
		t.Errorf("status %d, want 404", got.status)
	}
}
