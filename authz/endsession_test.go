package authz

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/jws"
	"github.com/wardauth/ward/pkce"
	"github.com/wardauth/ward/store"
)

const (
	logoutRedirect = "https://app.example/logged-out"
	loopbackLogout = "http://127.0.0.1:9999/out"
)

// logoutHarness is a harness whose clients web and bearer registered
// post-logout redirect URIs.
func logoutHarness(t testing.TB) *harness {
	t.Helper()
	h := newHarness(t)
	for _, id := range []string{"web", "bearer"} {
		h.updateClient(id, func(c *store.Client) {
			c.PostLogoutRedirectURIs = []string{logoutRedirect, loopbackLogout, "https://app.example/out?x=1"}
		})
	}
	return h
}

func (h *harness) updateClient(id string, f func(*store.Client)) {
	h.t.Helper()
	c, err := h.st.GetClient(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	f(c)
	if err := h.st.UpsertClient(context.Background(), c); err != nil {
		h.t.Fatal(err)
	}
	h.s.ForgetClient(id)
}

// signedIn logs alice in on a new browser (through a whole authorization
// of web) and returns the browser and its session.
func (h *harness) signedIn() (*browser, *store.Session) {
	h.t.Helper()
	b := h.newBrowser()
	v, _ := pkce.NewVerifier()
	if q := h.authorize(b, authParams("web", webRedirect, pkce.Challenge(v))); q.Get("code") == "" {
		h.t.Fatalf("no code: %v", q)
	}
	u, _ := url.Parse(h.issuer)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == h.s.cookieName(SessionCookie) {
			sess, err := h.st.GetSession(context.Background(), hashToken(c.Value), h.clk.Now())
			if err != nil {
				h.t.Fatal(err)
			}
			return b, sess
		}
	}
	h.t.Fatal("no session cookie")
	return nil, nil
}

// sessionAlive reports whether sess is still in the store.
func (h *harness) sessionAlive(sess *store.Session) bool {
	_, err := h.st.GetSession(context.Background(), sess.Hash, h.clk.Now())
	return err == nil
}

// idToken signs an ID token of this server (typ JWT, the current key)
// for client about alice's session sess, with claims overriding.
func (h *harness) idToken(client string, sess *store.Session, override map[string]any) string {
	h.t.Helper()
	now := h.clk.Now()
	cl := map[string]any{"iss": h.issuer, "sub": "u-alice", "aud": client, "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "auth_time": now.Unix()}
	if sess != nil {
		cl["sid"] = sess.SID()
	}
	for k, v := range override {
		if v == nil {
			delete(cl, k)
		} else {
			cl[k] = v
		}
	}
	k, err := h.s.km.Signer(now)
	if err != nil {
		h.t.Fatal(err)
	}
	tok, err := signJWT(k, "JWT", cl)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func endSessionURL(h *harness, params url.Values) string {
	return h.issuer + PathEndSession + "?" + params.Encode()
}

// wantRefusedPage: an error page, no redirect anywhere.
func wantRefusedPage(t *testing.T, what string, r *response) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.header.Get("Location") != "" || !bytes.Contains(r.body, []byte(`id="error-code"`)) {
		t.Errorf("%s: %d %q, want a 400 error page without redirect", what, r.status, r.header.Get("Location"))
	}
}

// TestEndSessionPostLogoutRedirectTricks: post_logout_redirect_uri is
// compared exactly with the client's registered ones (RP-Initiated Logout
// 1.0 §3), the tricks list of TestMatchRedirectURI; no loopback port
// exception; without a client there is nothing to compare with.
func TestEndSessionPostLogoutRedirectTricks(t *testing.T) {
	h := logoutHarness(t)
	tricks := []string{
		"https://app.example/logged-out/", "https://APP.example/logged-out", "HTTPS://app.example/logged-out",
		"https://app.example/Logged-out", "https://app.example/logged-out/extra", "https://app.example/logged-out?x=1",
		"https://app.example/logged-out#f", "https://evil@app.example/logged-out", "https://app.example@evil.example/logged-out",
		"https://app.example/%6Cogged-out", "https://app.example:443/logged-out", "https://app.example.evil.example/logged-out",
		"http://app.example/logged-out", "https://app.example/logged-ou", "https://app.example/out?x=1&y=2", "https://app.example/out",
		"http://127.0.0.1:9998/out", "http://127.0.0.1/out", "http://127.0.0.1:9999/out/", "http://[::1]:9999/out",
		"http://localhost:9999/out", webRedirect, " https://app.example/logged-out",
	}
	for _, u := range tricks {
		r := h.newBrowser().get(endSessionURL(h, url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {u}, "state": {"s1"}}))
		wantRefusedPage(t, u, r)
	}
	// Without client_id or id_token_hint, even a registered URI is refused.
	wantRefusedPage(t, "no client", h.newBrowser().get(endSessionURL(h, url.Values{"post_logout_redirect_uri": {logoutRedirect}})))
	// Another client's URI.
	wantRefusedPage(t, "other client", h.newBrowser().get(endSessionURL(h, url.Values{"client_id": {"post"}, "post_logout_redirect_uri": {logoutRedirect}})))
	for _, u := range []string{logoutRedirect, loopbackLogout, "https://app.example/out?x=1"} {
		r := h.newBrowser().get(endSessionURL(h, url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {u}}))
		if r.status != http.StatusSeeOther || r.header.Get("Location") != u {
			t.Errorf("registered %s: %d %q", u, r.status, r.header.Get("Location"))
		}
	}
}

// TestEndSessionStateEchoed: with an id_token_hint of the session the
// logout happens at once and the browser goes to the validated URI with
// state exactly as sent (§3), after the registered query; the session is
// gone and its cookie cleared. Without a redirect URI, the signed-out
// page, never a redirect.
func TestEndSessionStateEchoed(t *testing.T) {
	h := logoutHarness(t)
	const state = "st &=?é+/%20"
	b, sess := h.signedIn()
	r := b.get(endSessionURL(h, url.Values{"id_token_hint": {h.idToken("web", sess, nil)},
		"post_logout_redirect_uri": {"https://app.example/out?x=1"}, "state": {state}}))
	loc, _ := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || loc == nil || loc.Query().Get("state") != state || loc.Query().Get("x") != "1" ||
		!strings.HasPrefix(loc.String(), "https://app.example/out?x=1&") {
		t.Fatalf("logout: %d %q, want the registered URI with state %q", r.status, r.header.Get("Location"), state)
	}
	if h.sessionAlive(sess) {
		t.Fatal("the session outlived the logout")
	}
	if !strings.Contains(strings.Join(r.header.Values("Set-Cookie"), "\n"), h.s.cookieName(SessionCookie)+"=;") {
		t.Errorf("session cookie not cleared: %q", r.header.Values("Set-Cookie"))
	}
	// No state sent: none added.
	b, sess = h.signedIn()
	r = b.get(endSessionURL(h, url.Values{"id_token_hint": {h.idToken("web", sess, nil)}, "post_logout_redirect_uri": {logoutRedirect}}))
	if r.header.Get("Location") != logoutRedirect {
		t.Errorf("without state: %q", r.header.Get("Location"))
	}
	// No redirect URI: the signed-out page; state goes nowhere.
	b, sess = h.signedIn()
	r = b.get(endSessionURL(h, url.Values{"id_token_hint": {h.idToken("web", sess, nil)}, "state": {state}}))
	if r.status != http.StatusOK || r.header.Get("Location") != "" || !bytes.Contains(r.body, []byte("You are signed out")) || h.sessionAlive(sess) {
		t.Errorf("without redirect URI: %d %q alive=%v", r.status, r.header.Get("Location"), h.sessionAlive(sess))
	}
	// POST is served alike (§2).
	b, sess = h.signedIn()
	r = b.postForm(h.issuer+PathEndSession, url.Values{"id_token_hint": {h.idToken("web", sess, nil)},
		"post_logout_redirect_uri": {logoutRedirect}, "state": {"p"}})
	if r.header.Get("Location") != logoutRedirect+"?state=p" || h.sessionAlive(sess) {
		t.Errorf("POST: %d %q", r.status, r.header.Get("Location"))
	}
}

// TestEndSessionConfirmation: without id_token_hint, or with one naming
// another session or user, the user is asked first (§2) and nothing is
// logged out until they confirm: the session lives, no grant is revoked,
// no back-channel logout is queued.
func TestEndSessionConfirmation(t *testing.T) {
	h := logoutHarness(t)
	h.updateClient("web", func(c *store.Client) {
		c.LogoutRevokesGrants = true
		c.BackchannelLogoutURI = "https://rp.example/bc"
	})
	b, sess := h.signedIn()
	fam := h.sessionGrant("web", sess)
	other := &store.Session{Hash: hashToken("another session")}
	cases := map[string]url.Values{
		"no hint":       {"client_id": {"web"}, "post_logout_redirect_uri": {logoutRedirect}, "state": {"s"}},
		"other sid":     {"id_token_hint": {h.idToken("web", other, nil)}, "post_logout_redirect_uri": {logoutRedirect}},
		"other sub":     {"id_token_hint": {h.idToken("web", sess, map[string]any{"sub": "u-mallory"})}},
		"no sid, other": {"id_token_hint": {h.idToken("web", nil, map[string]any{"sub": "u-mallory"})}},
		"nothing":       {},
	}
	for name, params := range cases {
		r := b.get(endSessionURL(h, params))
		if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`value="logout"`)) || r.header.Get("Location") != "" {
			t.Fatalf("%s: %d %q, want the confirmation page", name, r.status, r.header.Get("Location"))
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", name, csp)
		}
		h.wantNothingLoggedOut(name, sess, fam)
	}
	// Stay signed in: still nothing.
	r := b.get(endSessionURL(h, cases["no hint"]))
	f := hidden(r.body)
	f.Set("decision", "stay")
	if r := b.postForm(h.issuer+PathEndSessionConfirm, f); r.status != http.StatusOK || !bytes.Contains(r.body, []byte("still signed in")) {
		t.Fatalf("stay: %d %s", r.status, r.body)
	}
	h.wantNothingLoggedOut("stay", sess, fam)
	// Confirmed: logged out, then to the validated URI with state.
	f.Set("decision", "logout")
	r = b.postForm(h.issuer+PathEndSessionConfirm, f)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != logoutRedirect+"?state=s" {
		t.Fatalf("confirm: %d %q", r.status, r.header.Get("Location"))
	}
	if h.sessionAlive(sess) || !h.familyRevoked(fam) || h.outboxLen() != 1 {
		t.Fatalf("after confirming: alive=%v revoked=%v outbox=%d", h.sessionAlive(sess), h.familyRevoked(fam), h.outboxLen())
	}
}

func (h *harness) wantNothingLoggedOut(what string, sess *store.Session, famID string) {
	h.t.Helper()
	if !h.sessionAlive(sess) || h.familyRevoked(famID) || h.outboxLen() != 0 {
		h.t.Fatalf("%s: logged out before confirming: alive=%v revoked=%v outbox=%d", what,
			h.sessionAlive(sess), h.familyRevoked(famID), h.outboxLen())
	}
}

// TestEndSessionConfirmCSRF: the confirmation form is refused without
// its CSRF token, with another confirmation's, or from another browser
// (the token is tied to the browser cookie); the session survives.
func TestEndSessionConfirmCSRF(t *testing.T) {
	h := logoutHarness(t)
	b, sess := h.signedIn()
	f := hidden(b.get(endSessionURL(h, url.Values{"client_id": {"web"}})).body)
	f2 := hidden(b.get(endSessionURL(h, url.Values{"client_id": {"web"}})).body)
	if f.Get("csrf") == "" || f.Get("logout") == "" {
		t.Fatalf("no form: %v", f)
	}
	attacker := h.newBrowser()
	attacker.get(endSessionURL(h, url.Values{})) // gets its own browser cookie
	forms := map[string]url.Values{
		"no csrf":    {"logout": {f.Get("logout")}, "decision": {"logout"}},
		"other form": {"logout": {f.Get("logout")}, "csrf": {f2.Get("csrf")}, "decision": {"logout"}},
		"bad csrf":   {"logout": {f.Get("logout")}, "csrf": {strings.Repeat("A", 43)}, "decision": {"logout"}},
	}
	for name, form := range forms {
		if r := b.postForm(h.issuer+PathEndSessionConfirm, form); r.status != http.StatusForbidden || !h.sessionAlive(sess) {
			t.Fatalf("%s: %d alive=%v, want 403 and the session alive", name, r.status, h.sessionAlive(sess))
		}
	}
	// The victim's whole form replayed from the attacker's browser.
	f.Set("decision", "logout")
	if r := attacker.postForm(h.issuer+PathEndSessionConfirm, f); r.status != http.StatusForbidden {
		t.Fatalf("cross-browser: %d", r.status)
	}
	if !h.sessionAlive(sess) {
		t.Fatal("session ended by a forged confirmation")
	}
	if r := b.postForm(h.issuer+PathEndSessionConfirm, f); r.status != http.StatusOK || h.sessionAlive(sess) {
		t.Fatalf("genuine confirmation: %d alive=%v", r.status, h.sessionAlive(sess))
	}
}

// TestEndSessionRefusesAccessTokenHint: an access token of this server
// (typ at+jwt, signed by the same key) is not an ID token (RFC 9068 §2.1,
// RFC 8725 §3.11): as id_token_hint it is refused, nothing logged out.
func TestEndSessionRefusesAccessTokenHint(t *testing.T) {
	h := logoutHarness(t)
	b, sess := h.signedIn()
	r := h.token("svc", url.Values{"grant_type": {"client_credentials"}}, h.newSigner())
	at := r.str("access_token")
	if at == "" {
		t.Fatalf("no access token: %s", r.body)
	}
	wantRefusedPage(t, "access token", b.get(endSessionURL(h, url.Values{"id_token_hint": {at}, "post_logout_redirect_uri": {logoutRedirect}})))
	// The same claims as an ID token's but typ at+jwt.
	k, _ := h.s.km.Signer(h.clk.Now())
	fake, _ := signJWT(k, "at+jwt", map[string]any{"iss": h.issuer, "sub": "u-alice", "aud": "web", "sid": sess.SID(), "exp": h.clk.Now().Add(time.Hour).Unix()})
	wantRefusedPage(t, "at+jwt", b.get(endSessionURL(h, url.Values{"id_token_hint": {fake}})))
	// A logout token is no ID token either.
	lt, _ := buildLogoutToken(k, &logoutClaims{Issuer: h.issuer, Subject: "u-alice", Audience: audience{"web"}, SID: sess.SID(), JTI: "j",
		Events: map[string]struct{}{EventBackchannelLogout: {}}})
	wantRefusedPage(t, "logout+jwt", b.get(endSessionURL(h, url.Values{"id_token_hint": {lt}})))
	if !h.sessionAlive(sess) {
		t.Fatal("logged out on a refused hint")
	}
	// An expired ID token is still a valid hint (§2).
	old := h.idToken("web", sess, map[string]any{"exp": h.clk.Now().Add(-24 * time.Hour).Unix()})
	if r := b.get(endSessionURL(h, url.Values{"id_token_hint": {old}, "post_logout_redirect_uri": {logoutRedirect}})); r.status != http.StatusSeeOther || h.sessionAlive(sess) {
		t.Fatalf("expired hint: %d alive=%v", r.status, h.sessionAlive(sess))
	}
}

// TestEndSessionRefusesForeignHint: an id_token_hint signed by any key
// but this server's published ones (even under its kid), by an algorithm
// off the allow-list, or naming another issuer, is refused (§2: the OP
// MUST validate that it issued the ID Token).
func TestEndSessionRefusesForeignHint(t *testing.T) {
	h := logoutHarness(t)
	b, sess := h.signedIn()
	own, _ := h.s.km.Signer(h.clk.Now())
	foreign, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	claims := []byte(`{"iss":"` + h.issuer + `","sub":"u-alice","aud":"web","sid":"` + sess.SID() + `","exp":9999999999}`)
	sign := func(alg, kid string, key *ecdsa.PrivateKey) string {
		hdr, _ := jws.EncodeHeader(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
		tok, err := jws.Sign(key, alg, hdr, claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hints := map[string]string{
		"foreign key, own kid": sign("ES256", own.KeyID, foreign),
		"foreign key, no kid":  sign("ES256", "", foreign),
		"ES384 off the list": func() string {
			k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			return sign("ES384", own.KeyID, k)
		}(),
		"alg none":      jwsNone(`{"alg":"none","kid":"`+own.KeyID+`","typ":"JWT"}`, claims),
		"other issuer":  h.idToken("web", sess, map[string]any{"iss": "https://evil.example"}),
		"no subject":    h.idToken("web", sess, map[string]any{"sub": nil}),
		"two audiences": h.idToken("web", sess, map[string]any{"aud": []string{"web", "post"}}),
		"garbage":       "a.b.c",
	}
	for name, hint := range hints {
		wantRefusedPage(t, name, b.get(endSessionURL(h, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {logoutRedirect}})))
	}
	if !h.sessionAlive(sess) {
		t.Fatal("logged out on a foreign hint")
	}
	// The genuine one passes (the refusals are the signature's doing).
	if r := b.get(endSessionURL(h, url.Values{"id_token_hint": {h.idToken("web", sess, nil)}})); r.status != http.StatusOK || h.sessionAlive(sess) {
		t.Fatalf("genuine hint: %d", r.status)
	}
}

func jwsNone(hdr string, claims []byte) string {
	return b64(hdr) + "." + b64(string(claims)) + "."
}

// TestEndSessionClientMismatch: client_id and the hint's audience must
// agree (§2); an unknown client is refused.
func TestEndSessionClientMismatch(t *testing.T) {
	h := logoutHarness(t)
	b, sess := h.signedIn()
	wantRefusedPage(t, "mismatch", b.get(endSessionURL(h, url.Values{"id_token_hint": {h.idToken("web", sess, nil)}, "client_id": {"bearer"},
		"post_logout_redirect_uri": {logoutRedirect}})))
	wantRefusedPage(t, "unknown", b.get(endSessionURL(h, url.Values{"client_id": {"nobody"}})))
	if !h.sessionAlive(sess) {
		t.Fatal("logged out on a refused request")
	}
	if r := b.get(endSessionURL(h, url.Values{"id_token_hint": {h.idToken("web", sess, nil)}, "client_id": {"web"},
		"post_logout_redirect_uri": {logoutRedirect}})); r.status != http.StatusSeeOther || h.sessionAlive(sess) {
		t.Fatalf("agreeing client_id: %d", r.status)
	}
}

// sessionGrant creates a grant of client in sess, as the code grant
// records it (store.OIDC.SID), with a refresh token; it returns the
// family's ID. The refresh token is "rt-"+client.
func (h *harness) sessionGrant(client string, sess *store.Session) string {
	h.t.Helper()
	now := h.clk.Now()
	id := "fam-" + client + "-" + randomToken(4)
	f := &store.Family{ID: id, ClientID: client, Subject: sess.Subject, Scope: "read", AuthTime: now, CreatedAt: now,
		ExpiresAt: now.Add(24 * time.Hour), OIDC: store.OIDC{SID: sess.SID()}}
	rt := &store.RefreshToken{Hash: hashToken("rt-" + client), FamilyID: id, Scope: "read", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	if err := h.st.CreateFamily(context.Background(), f, rt); err != nil {
		h.t.Fatal(err)
	}
	return id
}

func (h *harness) familyRevoked(id string) bool {
	h.t.Helper()
	f, err := h.st.GetFamily(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return !f.RevokedAt.IsZero()
}

// outboxLen counts the back-channel deliveries waiting, read from the
// SQLite file directly.
func (h *harness) outboxLen() int {
	h.t.Helper()
	db, err := sql.Open("sqlite", "file:"+h.path+"?mode=ro")
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM logout_outbox`).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestEndSessionLanguage: the confirmation and signed-out pages speak the
// language ui_locales asks for (OIDC Core §3.1.2.1, as at /authorize),
// also after the confirmation form comes back.
func TestEndSessionLanguage(t *testing.T) {
	h := logoutHarness(t)
	b, _ := h.signedIn()
	r := b.get(endSessionURL(h, url.Values{"client_id": {"web"}, "ui_locales": {"de"}}))
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`<html lang="de"`)) || !bytes.Contains(r.body, []byte("Abmelden")) {
		t.Fatalf("confirmation page: %d %s", r.status, r.body)
	}
	f := hidden(r.body)
	f.Set("decision", "logout")
	if r := b.postForm(h.issuer+PathEndSessionConfirm, f); r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`<html lang="de"`)) {
		t.Fatalf("signed-out page after confirming: %d %s", r.status, r.body)
	}
}

// TestEndSessionRefusesUserInfoHint: a signed UserInfo response (OIDC
// Core §5.3.2: typ JWT, iss, sub, aud the client, signed by the same keys,
// but neither exp nor iat) is no ID token (§2: both REQUIRED), so it is
// refused as id_token_hint: else, carrying no sid, it would end any later
// session of the user without confirmation.
func TestEndSessionRefusesUserInfoHint(t *testing.T) {
	h := logoutHarness(t)
	b, sess := h.signedIn()
	k, _ := h.s.km.Signer(h.clk.Now())
	// writeUserInfo's shape: the claims, then iss and aud.
	ui, err := signJWT(k, "JWT", map[string]any{"sub": "u-alice", "email": "alice@example.com", "iss": h.issuer, "aud": "web"})
	if err != nil {
		t.Fatal(err)
	}
	wantRefusedPage(t, "signed UserInfo", b.get(endSessionURL(h, url.Values{"id_token_hint": {ui}, "post_logout_redirect_uri": {logoutRedirect}})))
	for _, drop := range []string{"exp", "iat"} {
		tok := h.idToken("web", nil, map[string]any{drop: nil})
		wantRefusedPage(t, "ID token without "+drop, b.get(endSessionURL(h, url.Values{"id_token_hint": {tok}})))
	}
	if !h.sessionAlive(sess) {
		t.Fatal("a signed UserInfo response ended the session")
	}
}

// sessionDownStore fails GetSession as a database cut off would.
type sessionDownStore struct{ storeT }

func (sessionDownStore) GetSession(context.Context, []byte, time.Time) (*store.Session, error) {
	return nil, fmt.Errorf("sqlstore: get session: %w", errDial)
}

// TestEndSessionStoreUnavailable: a store that cannot say whether the
// browser has a session makes end_session and its confirmation a 503
// page: never "signed out" nor the redirect to the client, which would
// tell the user (and the RP, with state) that the session ended while it
// lives on for the next visitor of the browser.
func TestEndSessionStoreUnavailable(t *testing.T) {
	h := logoutHarness(t)
	b, sess := h.signedIn()
	hint := h.idToken("web", sess, nil)
	h.s.st = sessionDownStore{h.st}
	r := b.get(endSessionURL(h, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {logoutRedirect}, "state": {"s1"}}))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Location") != "" || r.header.Get("Retry-After") == "" {
		t.Fatalf("store down: %d %q, want a 503 page without redirect", r.status, r.header.Get("Location"))
	}
	if !h.sessionAlive(sess) {
		t.Fatal("the session ended")
	}
}
