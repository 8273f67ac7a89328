package authz

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// newDeviceHarness is newHarness with device_authorization on and two
// device clients: tv (public) and tvconf (client_secret_basic).
func newDeviceHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	h := newHarness(t, append([]harnessOpt{func(c *config.Config) { c.DeviceAuthorization.Enabled = true }}, opts...)...)
	for _, c := range []store.Client{
		{ID: "tv", Name: "Living Room TV", AuthMethod: oauth.AuthNone},
		{ID: "tvconf", Name: "Kiosk", AuthMethod: oauth.AuthSecretBasic},
	} {
		c.GrantTypes = []oauth.GrantType{oauth.GrantDeviceCode, oauth.GrantRefreshToken}
		c.Scopes = []string{"read", "write", oauth.ScopeOpenID}
		c.Audiences = []string{testAPI}
		secret, err := CreateClient(context.Background(), h.st, &c, h.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		h.secrets[c.ID] = secret
	}
	return h
}

type deviceStart struct{ deviceCode, userCode, complete string }

// startDevice asks /device_authorization for codes for the public tv
// client.
func (h *harness) startDevice(form url.Values, hdr ...string) deviceStart {
	h.t.Helper()
	if form.Get("client_id") == "" {
		form.Set("client_id", "tv")
	}
	r := h.post(PathDeviceAuthorization, form, hdr...)
	if r.status != http.StatusOK {
		h.t.Fatalf("device authorization: %d %s", r.status, r.body)
	}
	return deviceStart{r.str("device_code"), r.str("user_code"), r.str("verification_uri_complete")}
}

// pollDevice is one token request of the tv client with a proof of s
// (nil: none).
func (h *harness) pollDevice(dc string, s *dpop.Signer, clientID ...string) *response {
	h.t.Helper()
	id := "tv"
	if len(clientID) > 0 {
		id = clientID[0]
	}
	form := url.Values{"grant_type": {string(oauth.GrantDeviceCode)}, "device_code": {dc}, "client_id": {id}}
	var hdr []string
	if s != nil {
		hdr = []string{"DPoP", h.proof(s)}
	}
	return h.post(PathToken, form, hdr...)
}

func wantOAuthError(t *testing.T, what string, r *response, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("%s: %d %q, want %d %q (%s)", what, r.status, r.str("error"), status, code, r.body)
	}
}

// enterCode opens the verification page, types code and submits.
func (b *browser) enterCode(code string) *response {
	b.h.t.Helper()
	r := b.get(b.h.issuer + PathDevice)
	f := hidden(r.body)
	f.Set("user_code", code)
	return b.postForm(b.h.issuer+PathDevice, f)
}

// decideDevice submits the decision page shown by r.
func (b *browser) decideDevice(r *response, decision string) *response {
	b.h.t.Helper()
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`name="decision"`)) {
		b.h.t.Fatalf("expected the device decision page, got %d %s", r.status, r.body)
	}
	f := hidden(r.body)
	f.Set("decision", decision)
	return b.postForm(b.h.issuer+PathDevice, f)
}

// approveDevice: a person enters the code, logs in and decides.
func (h *harness) approveDevice(code, decision string) *response {
	h.t.Helper()
	b := h.newBrowser()
	r := b.enterCode(code)
	r = b.login(r, "alice", testPassword)
	return b.decideDevice(r, decision)
}

var userCodeRE = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// TestDeviceFlowDPoP: RFC 8628 end to end. The response has every §3.2
// member; polls are authorization_pending until the user allows; the
// tokens are bound to the polling key (DPoP, cnf.jkt) with a refresh
// token bound to it too; the device code is then single use.
func TestDeviceFlowDPoP(t *testing.T) {
	h := newDeviceHarness(t)
	r := h.post(PathDeviceAuthorization, url.Values{"client_id": {"tv"}, "scope": {"read openid"}})
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("device authorization: %d %v %s", r.status, r.header, r.body)
	}
	dc, uc := r.str("device_code"), r.str("user_code")
	if len(dc) != 43 || !userCodeRE.MatchString(uc) {
		t.Fatalf("device_code %q (want 256 bits, 43 characters), user_code %q", dc, uc)
	}
	if r.str("verification_uri") != h.issuer+PathDevice ||
		r.str("verification_uri_complete") != h.issuer+PathDevice+"?user_code="+uc ||
		r.json["expires_in"] != float64(600) || r.json["interval"] != float64(5) {
		t.Fatalf("device authorization response: %s", r.body)
	}
	key := h.newSigner()
	wantOAuthError(t, "first poll", h.pollDevice(dc, key), 400, oauth.AuthorizationPending)
	done := h.approveDevice(strings.ToLower(strings.ReplaceAll(uc, "-", " ")), "allow")
	if done.status != 200 || !bytes.Contains(done.body, []byte("Device connected")) {
		t.Fatalf("after allow: %d %s", done.status, done.body)
	}
	h.clk.Advance(5 * time.Second)
	tok := h.pollDevice(dc, key)
	if tok.status != 200 || tok.str("token_type") != oauth.TokenTypeDPoP || tok.str("refresh_token") == "" || tok.str("id_token") == "" {
		t.Fatalf("token: %d %s", tok.status, tok.body)
	}
	_, claims := decodeJWT(t, tok.str("access_token"))
	if cnf, _ := claims["cnf"].(map[string]any); cnf["jkt"] != key.Thumbprint() || claims["sub"] != "u-alice" || claims["scope"] != "read openid" {
		t.Fatalf("access token claims: %v", claims)
	}
	h.clk.Advance(5 * time.Second)
	wantOAuthError(t, "second redemption", h.pollDevice(dc, key), 400, oauth.InvalidGrant)
	// The refresh token is bound to the same key.
	rf := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}, "client_id": {"tv"}}
	wantOAuthError(t, "refresh with another key", h.post(PathToken, rf, "DPoP", h.proof(h.newSigner())), 400, oauth.InvalidDPoPProof)
}

// TestDeviceKeyFixedAtFirstPoll: the thief scenario. The device polls
// first with its key; someone who stole the device_code polls with
// another key and is refused before and after the user allows; the
// device gets the tokens, bound to its key.
func TestDeviceKeyFixedAtFirstPoll(t *testing.T) {
	h := newDeviceHarness(t)
	d := h.startDevice(url.Values{"scope": {"read"}})
	device, thief := h.newSigner(), h.newSigner()
	wantOAuthError(t, "device's first poll", h.pollDevice(d.deviceCode, device), 400, oauth.AuthorizationPending)
	h.clk.Advance(5 * time.Second)
	wantOAuthError(t, "thief before approval", h.pollDevice(d.deviceCode, thief), 400, oauth.InvalidDPoPProof)
	h.approveDevice(d.userCode, "allow")
	h.clk.Advance(5 * time.Second)
	wantOAuthError(t, "thief after approval", h.pollDevice(d.deviceCode, thief), 400, oauth.InvalidDPoPProof)
	wantOAuthError(t, "thief without a proof", h.pollDevice(d.deviceCode, nil), 400, oauth.InvalidDPoPProof)
	tok := h.pollDevice(d.deviceCode, device)
	if tok.status != 200 {
		t.Fatalf("device after the thief: %d %s", tok.status, tok.body)
	}
	_, claims := decodeJWT(t, tok.str("access_token"))
	if cnf, _ := claims["cnf"].(map[string]any); cnf["jkt"] != device.Thumbprint() {
		t.Fatalf("bound to %v, want the device's key", claims["cnf"])
	}
}

// TestDeviceDPoPJKTAtAuthorization: dpop_jkt (or a proof) at the device
// authorization endpoint fixes the key before any poll, so not even the
// first poll can bind another.
func TestDeviceDPoPJKTAtAuthorization(t *testing.T) {
	h := newDeviceHarness(t)
	device, thief := h.newSigner(), h.newSigner()
	d := h.startDevice(url.Values{"scope": {"read"}, "dpop_jkt": {device.Thumbprint()}})
	wantOAuthError(t, "thief polls first", h.pollDevice(d.deviceCode, thief), 400, oauth.InvalidDPoPProof)
	wantOAuthError(t, "device", h.pollDevice(d.deviceCode, device), 400, oauth.AuthorizationPending)

	p, err := device.Proof(http.MethodPost, h.issuer+PathDeviceAuthorization)
	if err != nil {
		t.Fatal(err)
	}
	d = h.startDevice(url.Values{"scope": {"read"}}, "DPoP", p)
	wantOAuthError(t, "thief polls first (proof)", h.pollDevice(d.deviceCode, thief), 400, oauth.InvalidDPoPProof)
	r := h.post(PathDeviceAuthorization, url.Values{"client_id": {"tv"}, "dpop_jkt": {"short"}})
	wantOAuthError(t, "malformed dpop_jkt", r, 400, oauth.InvalidRequest)
	p, _ = thief.Proof(http.MethodPost, h.issuer+PathDeviceAuthorization)
	r = h.post(PathDeviceAuthorization, url.Values{"client_id": {"tv"}, "dpop_jkt": {device.Thumbprint()}}, "DPoP", p)
	wantOAuthError(t, "dpop_jkt of another key than the proof's", r, 400, oauth.InvalidDPoPProof)
}

// TestDevicePollErrors: every RFC 8628 §3.5 answer with its exact code,
// and the §3.1 refusals.
func TestDevicePollErrors(t *testing.T) {
	h := newDeviceHarness(t)
	key := h.newSigner()

	t.Run("slow_down grows the interval by 5s", func(t *testing.T) {
		d := h.startDevice(url.Values{})
		wantOAuthError(t, "first", h.pollDevice(d.deviceCode, key), 400, oauth.AuthorizationPending)
		h.clk.Advance(3 * time.Second)
		wantOAuthError(t, "3s later", h.pollDevice(d.deviceCode, key), 400, oauth.SlowDown)
		// The interval is now 10s: 6s later is still too early.
		h.clk.Advance(6 * time.Second)
		wantOAuthError(t, "6s later", h.pollDevice(d.deviceCode, key), 400, oauth.SlowDown)
		// Now 15s.
		h.clk.Advance(15 * time.Second)
		wantOAuthError(t, "15s later", h.pollDevice(d.deviceCode, key), 400, oauth.AuthorizationPending)
		h.clk.Advance(14 * time.Second)
		wantOAuthError(t, "14s later", h.pollDevice(d.deviceCode, key), 400, oauth.SlowDown)
	})
	t.Run("access_denied", func(t *testing.T) {
		d := h.startDevice(url.Values{})
		done := h.approveDevice(d.userCode, "deny")
		if !bytes.Contains(done.body, []byte("Access denied")) {
			t.Fatalf("deny page: %s", done.body)
		}
		wantOAuthError(t, "after deny", h.pollDevice(d.deviceCode, key), 400, oauth.AccessDenied)
	})
	t.Run("expired_token", func(t *testing.T) {
		d := h.startDevice(url.Values{})
		h.clk.Advance(10 * time.Minute)
		wantOAuthError(t, "after the lifetime", h.pollDevice(d.deviceCode, key), 400, oauth.ExpiredToken)
		b := h.newBrowser()
		if r := b.enterCode(d.userCode); r.status != 400 || !bytes.Contains(r.body, []byte("has expired")) {
			t.Fatalf("expired code on the page: %d %s", r.status, r.body)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		d := h.startDevice(url.Values{})
		wantOAuthError(t, "unknown device_code", h.pollDevice("nope", key), 400, oauth.InvalidGrant)
		wantOAuthError(t, "missing device_code", h.pollDevice("", key), 400, oauth.InvalidRequest)
		wantOAuthError(t, "another client's code", h.post(PathToken, url.Values{"grant_type": {string(oauth.GrantDeviceCode)}, "device_code": {d.deviceCode}},
			append(h.basic("tvconf"), "DPoP", h.proof(key))...), 400, oauth.InvalidGrant)
		wantOAuthError(t, "client without the grant", h.post(PathDeviceAuthorization, url.Values{"client_id": {"spa"}}), 400, oauth.UnauthorizedClient)
		wantOAuthError(t, "poll by a client without the grant", h.pollDevice(d.deviceCode, key, "spa"), 400, oauth.UnauthorizedClient)
		wantOAuthError(t, "scope not allowed", h.post(PathDeviceAuthorization, url.Values{"client_id": {"tv"}, "scope": {"admin"}}), 400, oauth.InvalidScope)
		wantOAuthError(t, "wrong secret", h.post(PathDeviceAuthorization, url.Values{"client_id": {"tvconf"}, "client_secret": {"x"}}), 401, oauth.InvalidClient)
		wantOAuthError(t, "no proof", h.pollDevice(d.deviceCode, nil), 400, oauth.InvalidDPoPProof)
	})
	t.Run("confidential client", func(t *testing.T) {
		r := h.post(PathDeviceAuthorization, url.Values{"scope": {"read"}}, h.basic("tvconf")...)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		poll := h.post(PathToken, url.Values{"grant_type": {string(oauth.GrantDeviceCode)}, "device_code": {r.str("device_code")}},
			append(h.basic("tvconf"), "DPoP", h.proof(key))...)
		wantOAuthError(t, "confidential poll", poll, 400, oauth.AuthorizationPending)
	})
}

// TestDeviceBearerClientNeedsKey: a client allowed bearer tokens still
// polls with a key: a device code without one is redeemable by whoever
// reads it.
func TestDeviceBearerClientNeedsKey(t *testing.T) {
	h := newDeviceHarness(t)
	c := store.Client{ID: "tvbearer", AuthMethod: oauth.AuthSecretBasic, SenderConstraint: store.ConstraintBearer,
		GrantTypes: []oauth.GrantType{oauth.GrantDeviceCode}, Scopes: []string{"read"}, Audiences: []string{testAPI}}
	secret, err := CreateClient(context.Background(), h.st, &c, h.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	h.secrets[c.ID] = secret
	r := h.post(PathDeviceAuthorization, url.Values{}, h.basic("tvbearer")...)
	poll := h.post(PathToken, url.Values{"grant_type": {string(oauth.GrantDeviceCode)}, "device_code": {r.str("device_code")}}, h.basic("tvbearer")...)
	wantOAuthError(t, "bearer poll", poll, 400, oauth.InvalidDPoPProof)
}

// TestDeviceCodeSingleUse: a user code is decided once: entered again
// after the decision it is refused like a wrong code, and the decision
// form posted again changes nothing.
func TestDeviceCodeSingleUse(t *testing.T) {
	h := newDeviceHarness(t)
	d := h.startDevice(url.Values{})
	b := h.newBrowser()
	r := b.login(b.enterCode(d.userCode), "alice", testPassword)
	form := hidden(r.body)
	form.Set("decision", "deny")
	if done := b.postForm(h.issuer+PathDevice, form); done.status != 200 {
		t.Fatalf("deny: %d", done.status)
	}
	form.Set("decision", "allow")
	if again := b.postForm(h.issuer+PathDevice, form); again.status != 400 {
		t.Fatalf("second decision: %d %s", again.status, again.body)
	}
	wantOAuthError(t, "after a replayed allow", h.pollDevice(d.deviceCode, h.newSigner()), 400, oauth.AccessDenied)
	if r := b.enterCode(d.userCode); r.status != 400 || !bytes.Contains(r.body, []byte("device-error")) {
		t.Fatalf("decided code entered again: %d %s", r.status, r.body)
	}
}

// TestDevicePagePrefillNotSubmitted: RFC 8628 §5.4. The link of
// verification_uri_complete fills the code in, but nothing is decided
// until the person submits it, logs in and allows; the decision page
// shows the code to compare with the device.
func TestDevicePagePrefillNotSubmitted(t *testing.T) {
	h := newDeviceHarness(t)
	d := h.startDevice(url.Values{"scope": {"read"}})
	b := h.newBrowser()
	r := b.get(d.complete)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`value="`+d.userCode+`"`)) || bytes.Contains(r.body, []byte(`name="decision"`)) {
		t.Fatalf("prefilled page: %d %s", r.status, r.body)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	g, err := h.st.GetDeviceGrantByUserCode(context.Background(), userCodeHash(strings.ReplaceAll(d.userCode, "-", "")), h.clk.Now())
	if err != nil || g.Status != store.DevicePending {
		t.Fatalf("after opening the link: %v %+v", err, g)
	}
	r = b.login(b.enterCode(d.userCode), "alice", testPassword)
	for _, want := range []string{d.userCode, "Living Room TV", "<code>read</code>", "alice"} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("decision page lacks %q", want)
		}
	}
}

// TestDevicePageCSRF: the code form and the decision form need their
// CSRF tokens.
func TestDevicePageCSRF(t *testing.T) {
	h := newDeviceHarness(t)
	d := h.startDevice(url.Values{})
	b := h.newBrowser()
	b.get(h.issuer + PathDevice)
	if r := b.postForm(h.issuer+PathDevice, url.Values{"user_code": {d.userCode}}); r.status != http.StatusForbidden {
		t.Fatalf("code without csrf: %d", r.status)
	}
	r := b.login(b.enterCode(d.userCode), "alice", testPassword)
	f := hidden(r.body)
	f.Set("decision", "allow")
	f.Set("csrf", "forged")
	if r := b.postForm(h.issuer+PathDevice, f); r.status != http.StatusForbidden {
		t.Fatalf("decision with a forged csrf: %d", r.status)
	}
	// Another browser, logged in as the same user, cannot post this one's form.
	other := h.newBrowser()
	other.login(other.enterCode(d.userCode), "alice", testPassword)
	f = hidden(r.body)
	if r := other.postForm(h.issuer+PathDevice, f); r.status != http.StatusForbidden && r.status != http.StatusBadRequest {
		t.Fatalf("decision from another browser: %d", r.status)
	}
}

// TestDeviceUserCodeBruteForce: RFC 8628 §5.1. Wrong codes spend the
// allowance of the address; once spent, even the right code is refused
// with 429 and Retry-After, without being looked up. The global
// allowance stops guesses spread over many addresses.
func TestDeviceUserCodeBruteForce(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		h := newDeviceHarness(t, func(c *config.Config) {
			c.DeviceAuthorization.UserCodeFailures.IP = config.Rate{Rate: 3, Period: time.Hour, Burst: 3}
		})
		d := h.startDevice(url.Values{})
		b := h.newBrowser()
		for i, guess := range []string{"BBBB-BBBB", "not a code", "CCCC-CCCC"} {
			if r := b.enterCode(guess); r.status != 400 {
				t.Fatalf("guess %d: %d", i, r.status)
			}
		}
		r := b.enterCode(d.userCode)
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Fatalf("right code after the allowance: %d %v", r.status, r.header)
		}
	})
	t.Run("global", func(t *testing.T) {
		h := newDeviceHarness(t, func(c *config.Config) {
			c.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
			c.DeviceAuthorization.UserCodeFailures.IP = config.Rate{Off: true}
			c.DeviceAuthorization.UserCodeFailures.Global = config.Rate{Rate: 4, Period: time.Hour, Burst: 4}
		})
		d := h.startDevice(url.Values{})
		guess := func(ip, code string) int {
			b := h.newBrowser()
			req, _ := http.NewRequest(http.MethodGet, h.issuer+PathDevice, nil)
			r := h.do(b.c, req)
			f := hidden(r.body)
			f.Set("user_code", code)
			req, _ = http.NewRequest(http.MethodPost, h.issuer+PathDevice, strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", ip)
			return h.do(b.c, req).status
		}
		for i := range 4 {
			if st := guess("203.0.113."+string(rune('1'+i)), "DDDD-DDDD"); st != 400 {
				t.Fatalf("guess %d: %d", i, st)
			}
		}
		if st := guess("198.51.100.7", d.userCode); st != http.StatusTooManyRequests {
			t.Fatalf("right code from a fresh address after the global allowance: %d", st)
		}
	})
}

// TestDeviceDisabled: off by default: no endpoints, no grant, nothing in
// the metadata.
func TestDeviceDisabled(t *testing.T) {
	h := newHarness(t)
	if r := h.post(PathDeviceAuthorization, url.Values{"client_id": {"spa"}}); r.status != http.StatusNotFound {
		t.Fatalf("/device_authorization: %d", r.status)
	}
	r := h.post(PathToken, url.Values{"grant_type": {string(oauth.GrantDeviceCode)}, "device_code": {"x"}}, h.basic("web")...)
	wantOAuthError(t, "grant", r, 400, oauth.UnsupportedGrantType)
	md := h.s.Metadata()
	if md.DeviceAuthorizationEndpoint != "" {
		t.Fatalf("metadata: %+v", md)
	}
	on := newDeviceHarness(t).s.Metadata()
	if on.DeviceAuthorizationEndpoint == "" || on.GrantTypesSupported[len(on.GrantTypesSupported)-1] != oauth.GrantDeviceCode {
		t.Fatalf("metadata when enabled: %v %v", on.DeviceAuthorizationEndpoint, on.GrantTypesSupported)
	}
}

// TestDeviceFlowNotAtConsent: a device flow sealed for /device cannot be
// taken to /consent, which would issue a code to no redirect URI.
func TestDeviceFlowNotAtConsent(t *testing.T) {
	h := newDeviceHarness(t)
	d := h.startDevice(url.Values{})
	b := h.newBrowser()
	r := b.login(b.enterCode(d.userCode), "alice", testPassword)
	f := hidden(r.body)
	if r := b.get(h.issuer + PathConsent + "?flow=" + url.QueryEscape(f.Get("flow"))); r.status != 400 {
		t.Fatalf("device flow at /consent: %d", r.status)
	}
}

// lostPollRace is a store whose PollDeviceGrant plays the poll that loses
// a race for the first binding: before it, the device's own poll binds
// the grant to winner; it then answers as sqlstore did before
// TestPollDeviceGrantLostRace for a poll whose conditional UPDATE matched
// nothing (the grant as read before, slow): grantDevice must not trust it.
type lostPollRace struct {
	store.Store
	winner string
}

func (s lostPollRace) PollDeviceGrant(ctx context.Context, hash []byte, clientID, jkt, x5t string, now time.Time, step time.Duration) (*store.DeviceGrant, bool, error) {
	stale, err := s.Store.GetDeviceGrant(ctx, hash, clientID, now)
	if err != nil {
		return nil, false, err
	}
	if _, _, err := s.Store.PollDeviceGrant(ctx, hash, clientID, s.winner, "", now, step); err != nil {
		return nil, false, err
	}
	return stale, true, nil
}

// TestDeviceFirstPollRaceNoTokens: a thief's poll that races the
// device's first poll on an approved, not yet bound code and loses the
// binding gets no tokens for its own key (the store answered the grant
// as read before the device's binding); the device then gets them.
func TestDeviceFirstPollRaceNoTokens(t *testing.T) {
	h := newDeviceHarness(t)
	d := h.startDevice(url.Values{"scope": {"read"}})
	device, thief := h.newSigner(), h.newSigner()
	h.approveDevice(d.userCode, "allow")
	real := h.s.st
	h.s.st = lostPollRace{Store: real, winner: device.Thumbprint()}
	r := h.pollDevice(d.deviceCode, thief)
	h.s.st = real
	if r.status == http.StatusOK {
		_, claims := decodeJWT(t, r.str("access_token"))
		t.Fatalf("the thief that lost the first-poll race got tokens bound to %v", claims["cnf"])
	}
	wantOAuthError(t, "thief that lost the race", r, 400, oauth.SlowDown)
	h.clk.Advance(time.Minute)
	if tok := h.pollDevice(d.deviceCode, device); tok.status != 200 {
		t.Fatalf("device after the race: %d %s", tok.status, tok.body)
	}
}

// heldUserCodeStore holds every user code lookup until n have arrived
// (or a second has passed), so that guesses sent at once are all in
// flight together.
type heldUserCodeStore struct {
	store.Store
	mu      sync.Mutex
	n       int
	arrived chan struct{}
}

func (s *heldUserCodeStore) GetDeviceGrantByUserCode(ctx context.Context, userHash []byte, now time.Time) (*store.DeviceGrant, error) {
	s.mu.Lock()
	if s.n--; s.n == 0 {
		close(s.arrived)
	}
	s.mu.Unlock()
	select {
	case <-s.arrived:
	case <-time.After(time.Second):
	}
	return s.Store.GetDeviceGrantByUserCode(ctx, userHash, now)
}

// TestDeviceUserCodeBurstKeepsAllowance: wrong user codes sent at once
// from many addresses, more than the global allowance holds, are not
// each admitted by a look at the same allowance: no more are checked
// against the store than the allowance has failures (authGate), and the
// others are refused with 429.
func TestDeviceUserCodeBurstKeepsAllowance(t *testing.T) {
	const allowance, burst = 4, 12
	h := newDeviceHarness(t, func(c *config.Config) {
		c.BehindTLSProxy.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		c.DeviceAuthorization.UserCodeFailures.IP = config.Rate{Off: true}
		c.DeviceAuthorization.UserCodeFailures.Global = config.Rate{Rate: allowance, Period: time.Hour, Burst: allowance}
	})
	reqs := make([]func() int, burst)
	for i := range burst {
		b := h.newBrowser()
		f := hidden(b.get(h.issuer + PathDevice).body)
		f.Set("user_code", "DDDD-DDDD")
		reqs[i] = func() int {
			req, _ := http.NewRequest(http.MethodPost, h.issuer+PathDevice, strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
			return h.do(b.c, req).status
		}
	}
	h.s.st = &heldUserCodeStore{Store: h.s.st, n: burst, arrived: make(chan struct{})}
	statuses := make([]int, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() { statuses[i] = reqs[i]() })
	}
	wg.Wait()
	checked := 0
	for _, st := range statuses {
		switch st {
		case http.StatusBadRequest:
			checked++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("statuses %v", statuses)
		}
	}
	if checked > allowance {
		t.Fatalf("%d wrong codes checked at once with an allowance of %d (statuses %v)", checked, allowance, statuses)
	}
}
