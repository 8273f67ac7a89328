package authz

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"
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
