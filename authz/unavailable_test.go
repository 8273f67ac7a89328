package authz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/store"
)

// down is an error as a store reports an outage: store.ErrUnavailable
// with the cause (package sqlstore decides which causes are outages;
// store/sqlstore.TestUnavailable and the conformance suite check it).
func down(cause error) error { return fmt.Errorf("%w: %w", store.ErrUnavailable, cause) }

// TestStoreUnreachableIs503: a server_error caused by a store that cannot
// be reached (store.ErrUnavailable) is answered 503
// temporarily_unavailable (RFC 6749 §5.2) with Retry-After; every other
// server_error stays 500, and protocol errors are untouched.
// test/crash.TestPostgresUnreachable shows it through the binary.
func TestStoreUnreachableIs503(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, c := range []struct {
		name string
		err  error
		code string
	}{
		{"dial refused", oauth.Wrap(fmt.Errorf("sqlstore: get client: %w", down(dial)), "cannot read the client"), oauth.TemporarilyUnavailable},
		{"connection lost mid-query", oauth.Wrap(fmt.Errorf("x: %w", down(io.ErrUnexpectedEOF)), "x"), oauth.TemporarilyUnavailable},
		{"store deadline passed", oauth.Wrap(fmt.Errorf("sqlstore: get client: %w", down(context.DeadlineExceeded)), "x"), oauth.TemporarilyUnavailable},
		{"Redis unavailable", oauth.Wrap(fmt.Errorf("redisstore: use once: %w", down(dial)), "x"), oauth.TemporarilyUnavailable},
		{"other internal error", oauth.Wrap(errors.New("boom"), "x"), oauth.ServerError},
		{"network error the store did not report as an outage", oauth.Wrap(dial, "x"), oauth.ServerError},
		{"bare error", errors.New("boom"), oauth.ServerError},
		{"protocol error with an outage as its cause", &oauth.Error{Code: oauth.InvalidGrant, Status: 400, Err: down(dial)}, oauth.InvalidGrant},
		{"not found is not unavailability", oauth.Wrap(store.ErrNotFound, "x"), oauth.ServerError},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := asProtocolError(c.err)
			if e.Code != c.code {
				t.Fatalf("code %q, want %q", e.Code, c.code)
			}
			if c.code == oauth.TemporarilyUnavailable && (e.Status != http.StatusServiceUnavailable || e.RetryAfter <= 0 || e.Err == nil) {
				t.Errorf("status %d, Retry-After %d, cause %v; want 503 with Retry-After and the cause kept", e.Status, e.RetryAfter, e.Err)
			}
		})
	}
}

// downStore is the harness's store whose reads of clients and users and
// whose code writes fail as a database cut off would, while down is set.
type downStore struct {
	storeT
	down atomic.Bool
}

var errDial = down(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")})

func (d *downStore) GetClient(ctx context.Context, id string) (*store.Client, error) {
	if d.down.Load() {
		return nil, fmt.Errorf("sqlstore: get client: %w", errDial)
	}
	return d.storeT.GetClient(ctx, id)
}

func (d *downStore) GetUserByUsername(ctx context.Context, name string) (*store.User, error) {
	if d.down.Load() {
		return nil, fmt.Errorf("sqlstore: get user: %w", errDial)
	}
	return d.storeT.GetUserByUsername(ctx, name)
}

func (d *downStore) PutCode(ctx context.Context, c *store.AuthCode) error {
	if d.down.Load() {
		return fmt.Errorf("sqlstore: put code: %w", errDial)
	}
	return d.storeT.PutCode(ctx, c)
}

// The browser-facing pages answer a store outage as the JSON endpoints
// do: 503 with Retry-After (never 500, never a code), and an
// authorization response that can redirect carries
// temporarily_unavailable (RFC 6749 §4.1.2.1) with iss and state.
func TestPagesStoreUnreachable(t *testing.T) {
	h := newHarness(t)
	ds := &downStore{storeT: h.st}
	h.s.st = ds
	h.s.clients = newClientCache(ds, 0, h.s.now) // no cache: every page reads the client
	params := authParams("web", webRedirect, pkce.Challenge(strings.Repeat("a", 43)))
	want503 := func(t *testing.T, what string, r *response) {
		t.Helper()
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !bytes.Contains(r.body, []byte("temporarily_unavailable")) {
			t.Fatalf("%s: %d Retry-After %q %s; want a 503 page", what, r.status, r.header.Get("Retry-After"), grepBody(r.body))
		}
	}

	t.Run("authorization request", func(t *testing.T) {
		ds.down.Store(true)
		defer ds.down.Store(false)
		want503(t, "authorize", h.newBrowser().get(h.issuer+PathAuthorize+"?"+params.Encode()))
	})
	t.Run("login", func(t *testing.T) {
		b := h.newBrowser()
		page := b.get(h.issuer + PathAuthorize + "?" + params.Encode())
		ds.down.Store(true)
		defer ds.down.Store(false)
		f := hidden(page.body)
		f.Set("username", "alice")
		f.Set("password", testPassword)
		want503(t, "login", b.postForm(h.issuer+PathLogin, f))
	})
	t.Run("code", func(t *testing.T) {
		// Logged in and consented once; the next authorization needs only
		// a code, which cannot be stored.
		b := h.newBrowser()
		h.authorize(b, params)
		ds.down.Store(true)
		defer ds.down.Store(false)
		h.s.clients = newClientCache(h.st, 0, h.s.now) // the client is readable; the code write fails
		q := redirectQuery(t, b.get(h.issuer+PathAuthorize+"?"+params.Encode()))
		if q.Get("error") != oauth.TemporarilyUnavailable || q.Get("code") != "" || q.Get("iss") != h.issuer || q.Get("state") != params.Get("state") {
			t.Fatalf("redirect %v; want error=temporarily_unavailable with iss and state, no code", q)
		}
	})
}

// grepBody is the part of an error page that says what went wrong.
func grepBody(b []byte) string {
	if i := bytes.Index(b, []byte("<main")); i >= 0 {
		b = b[i:]
	}
	return string(b[:min(len(b), 400)])
}

// TestTokenStoreUnavailableIs503: the token endpoint answers a store that
// reports store.ErrUnavailable (reading the client fails as with
// PostgreSQL cut off) with 503 temporarily_unavailable and Retry-After,
// never 500 and never a token.
func TestTokenStoreUnavailableIs503(t *testing.T) {
	h := newHarness(t)
	ds := &downStore{storeT: h.st}
	h.s.st = ds
	h.s.clients = newClientCache(ds, 0, h.s.now)
	ds.down.Store(true)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {h.secrets["svc"]}}
	r := h.post(PathToken, form, "DPoP", h.proof(h.newSigner()))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("%d, Retry-After %q: %s; want 503 with Retry-After", r.status, r.header.Get("Retry-After"), r.body)
	}
	wantError(t, r, http.StatusServiceUnavailable, oauth.TemporarilyUnavailable)
	ds.down.Store(false)
	wantToken(t, h.post(PathToken, form, "DPoP", h.proof(h.newSigner())))
}

// revokeDownStore fails RevokeFamily as a database cut off would, while
// down is set.
type revokeDownStore struct {
	storeT
	down atomic.Bool
}

func (d *revokeDownStore) RevokeFamily(ctx context.Context, id, reason string, now time.Time) error {
	if d.down.Load() {
		return fmt.Errorf("sqlstore: revoke family: %w", errDial)
	}
	return d.storeT.RevokeFamily(ctx, id, reason, now)
}

// TestCodeReplayRevocationUnavailable: a replayed code whose family cannot
// be revoked (the store is down) is answered 503, not invalid_grant
// "revoked" with the grant left live (RFC 9700 §4.5); the retry revokes.
func TestCodeReplayRevocationUnavailable(t *testing.T) {
	h := newHarness(t)
	s := h.newSigner()
	c, v := h.code(h.newBrowser(), "web", webRedirect, nil)
	r := h.exchange("web", c, v, webRedirect, s)
	wantToken(t, r)
	rt := r.str("refresh_token")
	ds := &revokeDownStore{storeT: h.st}
	h.s.st = ds
	ds.down.Store(true)
	wantError(t, h.exchange("web", c, v, webRedirect, s), http.StatusServiceUnavailable, oauth.TemporarilyUnavailable)
	ds.down.Store(false)
	wantError(t, h.exchange("web", c, v, webRedirect, s), http.StatusBadRequest, oauth.InvalidGrant)
	if in := h.introspect(rt); in.json["active"] != false {
		t.Fatalf("refresh token still active after the replay was retried: %s", in.body)
	}
}
