package authz

import (
	"context"
	"errors"
	"github.com/wardauth/ward/oauth"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/pkce"
)

// counters returns every ward_authz_ series of the server's registry as
// `name{label="value",...}` → value.
func counters(t *testing.T, s *Server) map[string]float64 {
	t.Helper()
	fams, err := s.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "ward_authz_") {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
			}
			out[f.GetName()+"{"+strings.Join(ls, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	return out
}

// meter checks that each step of a script moves the counters by exactly
// the wanted amounts, and no other series at all.
type meter struct {
	t    *testing.T
	h    *harness
	last map[string]float64
}

func newMeter(t *testing.T, h *harness) *meter {
	m := &meter{t: t, h: h, last: counters(t, h.s)}
	for k, v := range m.last {
		if v != 0 {
			t.Fatalf("%s starts at %v", k, v)
		}
	}
	return m
}

func (m *meter) step(name string, do func(), want map[string]float64) {
	m.t.Helper()
	do()
	now := counters(m.t, m.h.s)
	got := map[string]float64{}
	for k, v := range now {
		if d := v - m.last[k]; d != 0 {
			got[k] = d
		}
	}
	for k := range m.last {
		if _, ok := now[k]; !ok {
			m.t.Fatalf("%s: series %s disappeared", name, k)
		}
	}
	if !maps.Equal(got, want) {
		m.t.Fatalf("%s: counters moved by\n  %v\nwant\n  %v", name, got, want)
	}
	m.last = now
}

const (
	mIssued   = "ward_authz_tokens_issued_total"
	mErrors   = "ward_authz_token_errors_total"
	mDPoP     = "ward_authz_dpop_rejections_total"
	mLimited  = "ward_authz_rate_limited_total"
	mFailures = "ward_authz_login_failures_total"
)

func series(name, label, value string) string { return name + "{" + label + `="` + value + `"}` }
func issued(grant oauth.GrantType) string     { return issuedAs(grant, senderDPoP) }
func issuedAs(grant oauth.GrantType, sender string) string {
	return mIssued + `{grant="` + string(grant) + `",sender="` + sender + `"}`
}
func tokenErr(code string) string       { return series(mErrors, "error", code) }
func dpopRej(reason dpop.Reason) string { return series(mDPoP, "reason", string(reason)) }
func loginFail(outcome string) string   { return series(mFailures, "outcome", outcome) }
func limited(endpoint, tier string) string {
	return mLimited + `{endpoint="` + endpoint + `",tier="` + tier + `"}`
}

func wantStatus(t *testing.T, r *response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %.300s", r.status, status, r.body)
	}
}

// TestMetricsTokenEndpoint: every /token answer moves exactly one of
// tokens_issued{grant} and token_errors{error}; refused proofs move
// dpop_rejections{reason}; a client's 429 moves rate_limited{token,client}.
func TestMetricsTokenEndpoint(t *testing.T) {
	h := newHarness(t, withLimits(func(rl *config.RateLimits) {
		rl.Token.Client = config.Rate{Rate: 2, Period: time.Minute}
	}))
	m := newMeter(t, h)
	cc := func() url.Values { return url.Values{"grant_type": {"client_credentials"}} }
	var r *response

	// svc: three requests in one minute, the client tier allows two.
	m.step("client_credentials", func() { wantToken(t, h.token("svc", cc(), h.newSigner())) },
		map[string]float64{issued(oauth.GrantClientCredentials): 1})
	m.step("no proof", func() { wantError(t, h.token("svc", cc(), nil), http.StatusBadRequest, "invalid_dpop_proof") },
		map[string]float64{tokenErr("invalid_dpop_proof"): 1, dpopRej(dpop.ReasonMissing): 1})
	m.step("client tier", func() { wantLimited(t, h.token("svc", cc(), h.newSigner()), "30") },
		map[string]float64{tokenErr("rate_limited"): 1, limited("token", "client"): 1})

	h.clk.Advance(time.Minute)
	m.step("wrong secret", func() {
		f := cc()
		f.Set("client_id", "post")
		f.Set("client_secret", "wrong")
		wantError(t, h.post(PathToken, f), http.StatusUnauthorized, "invalid_client")
	}, map[string]float64{tokenErr("invalid_client"): 1})
	proof := h.proof(h.newSigner())
	m.step("proof", func() {
		f := cc()
		wantToken(t, h.post(PathToken, f, append(h.auth("post", f), "DPoP", proof)...))
	}, map[string]float64{issued(oauth.GrantClientCredentials): 1})
	m.step("replayed proof", func() {
		f := cc()
		wantError(t, h.post(PathToken, f, append(h.auth("post", f), "DPoP", proof)...), http.StatusBadRequest, "invalid_dpop_proof")
	}, map[string]float64{tokenErr("invalid_dpop_proof"): 1, dpopRej(dpop.ReasonReplayed): 1})

	h.clk.Advance(time.Minute)
	m.step("htu mismatch", func() {
		p, err := h.newSigner().Proof(http.MethodPost, h.issuer+"/elsewhere")
		if err != nil {
			t.Fatal(err)
		}
		f := cc()
		wantError(t, h.post(PathToken, f, append(h.auth("post", f), "DPoP", p)...), http.StatusBadRequest, "invalid_dpop_proof")
	}, map[string]float64{tokenErr("invalid_dpop_proof"): 1, dpopRej(dpop.ReasonHTUMismatch): 1})
	m.step("password grant", func() {
		wantError(t, h.token("post", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}}, nil),
			http.StatusBadRequest, "unsupported_grant_type")
	}, map[string]float64{tokenErr("unsupported_grant_type"): 1})

	h.clk.Advance(time.Minute)
	m.step("bearer opt-out", func() { wantToken(t, h.token("bearer", cc(), nil)) },
		map[string]float64{issuedAs(oauth.GrantClientCredentials, senderBearer): 1})

	// A browser flow (a successful login moves nothing), then code and
	// refresh grants of the DPoP-bound family.
	s := h.newSigner()
	var code, verifier string
	m.step("login", func() { code, verifier = h.code(h.newBrowser(), "web", webRedirect, nil) }, map[string]float64{})
	m.step("code", func() { r = h.exchange("web", code, verifier, webRedirect, s); wantToken(t, r) },
		map[string]float64{issued(oauth.GrantAuthorizationCode): 1})
	rt1 := r.str("refresh_token")
	m.step("refresh", func() { r = h.refresh("web", rt1, s); wantToken(t, r) },
		map[string]float64{issued(oauth.GrantRefreshToken): 1})
	rt2 := r.str("refresh_token")

	h.clk.Advance(time.Minute)
	m.step("bound refresh without proof", func() { wantError(t, h.refresh("web", rt2, nil), http.StatusBadRequest, "invalid_dpop_proof") },
		map[string]float64{tokenErr("invalid_dpop_proof"): 1, dpopRej(dpop.ReasonMissing): 1})
	m.step("refresh reuse", func() { wantError(t, h.refresh("web", rt1, s), http.StatusBadRequest, "invalid_grant") },
		map[string]float64{tokenErr("invalid_grant"): 1, `ward_authz_refresh_reuse_total{outcome="family_revoked"}`: 1})
}

// TestMetricsNonce: with nonces on, the first proof without one is a
// use_dpop_nonce error and a nonce_missing rejection.
func TestMetricsNonce(t *testing.T) {
	h := newHarness(t, func(c *configT) { c.DPoP.Nonce.Enabled = true })
	m := newMeter(t, h)
	s := h.newSigner()
	var n string
	m.step("no nonce", func() {
		r := h.token("svc", url.Values{"grant_type": {"client_credentials"}}, s)
		wantError(t, r, http.StatusBadRequest, "use_dpop_nonce")
		n = r.header.Get("DPoP-Nonce")
	}, map[string]float64{tokenErr("use_dpop_nonce"): 1, dpopRej(dpop.ReasonNonceMissing): 1})
	m.step("bogus nonce", func() {
		wantError(t, h.token("svc", url.Values{"grant_type": {"client_credentials"}}, s, dpop.WithNonce("bogus")), http.StatusBadRequest, "use_dpop_nonce")
	}, map[string]float64{tokenErr("use_dpop_nonce"): 1, dpopRej(dpop.ReasonNonceInvalid): 1})
	m.step("nonce", func() {
		wantToken(t, h.token("svc", url.Values{"grant_type": {"client_credentials"}}, s, dpop.WithNonce(n)))
	},
		map[string]float64{issued(oauth.GrantClientCredentials): 1})
}

// TestMetricsRateLimitedIP: the ip tier of /token, /par and POST /login;
// only /token's refusal is also a token error, and a login refused by the
// rate limit is not a login failure.
func TestMetricsRateLimitedIP(t *testing.T) {
	h := newHarness(t, withLimits(func(rl *config.RateLimits) {
		rl.Token.IP = config.Rate{Rate: 1, Period: 10 * time.Second}
		rl.PAR.IP = config.Rate{Rate: 1, Period: 10 * time.Second}
		rl.Login.IP = config.Rate{Rate: 1, Period: time.Minute}
	}))
	m := newMeter(t, h)
	m.step("token", func() { wantToken(t, h.token("svc", url.Values{"grant_type": {"client_credentials"}}, h.newSigner())) },
		map[string]float64{issued(oauth.GrantClientCredentials): 1})
	m.step("token ip tier", func() {
		wantLimited(t, h.token("svc", url.Values{"grant_type": {"client_credentials"}}, h.newSigner()), "10")
	},
		map[string]float64{limited("token", "ip"): 1, tokenErr("rate_limited"): 1})
	v, _ := pkce.NewVerifier()
	m.step("par", func() {
		wantStatus(t, h.post(PathPAR, authParams("web", webRedirect, pkce.Challenge(v)), h.basic("web")...), http.StatusCreated)
	},
		map[string]float64{})
	m.step("par ip tier", func() {
		wantLimited(t, h.post(PathPAR, authParams("web", webRedirect, pkce.Challenge(v)), h.basic("web")...), "10")
	},
		map[string]float64{limited("par", "ip"): 1})
	b := h.newBrowser()
	m.step("login", func() { wantStatus(t, b.login(loginPage(h, b), "alice", "guess"), http.StatusUnauthorized) },
		map[string]float64{loginFail(loginWrongCredentials): 1})
	m.step("login ip tier", func() { wantStatus(t, b.login(loginPage(h, b), "alice", testPassword), http.StatusTooManyRequests) },
		map[string]float64{limited("login", "ip"): 1})
}

// TestMetricsLoginFailures: wrong passwords and unknown users are one
// outcome; refusals during a delay are throttled, during a lock locked; a
// success moves nothing.
func TestMetricsLoginFailures(t *testing.T) {
	h := newHarness(t, withLimits(func(rl *config.RateLimits) {
		rl.LoginFailures.Account = config.FailurePolicy{Free: 1, BaseDelay: time.Second, MaxDelay: 8 * time.Second,
			LockAfter: 3, LockFor: 10 * time.Minute, Forget: time.Hour}
		rl.LoginFailures.IP.Off = true
	}))
	m := newMeter(t, h)
	b := h.newBrowser()
	login := func(user, pw string, status int) func() {
		return func() { wantStatus(t, b.login(loginPage(h, b), user, pw), status) }
	}
	wrong := map[string]float64{loginFail(loginWrongCredentials): 1}
	m.step("wrong password (free)", login("alice", "guess", http.StatusUnauthorized), wrong)
	m.step("unknown user", login("mallory", "guess", http.StatusUnauthorized), wrong)
	m.step("wrong password (1s delay)", login("alice", "guess", http.StatusUnauthorized), wrong)
	m.step("during the delay", login("alice", testPassword, http.StatusTooManyRequests),
		map[string]float64{loginFail(loginThrottled): 1})
	h.clk.Advance(time.Second)
	m.step("wrong password (lock)", login("alice", "guess", http.StatusUnauthorized), wrong)
	m.step("during the lock", login("ALICE", testPassword, http.StatusTooManyRequests),
		map[string]float64{loginFail(loginLocked): 1})
	h.clk.Advance(10 * time.Minute)
	m.step("success", func() {
		if r := b.login(loginPage(h, b), "alice", testPassword); r.status == http.StatusUnauthorized || r.status == http.StatusTooManyRequests {
			t.Fatalf("real user after the lock: %d", r.status)
		}
	}, map[string]float64{})
}

// TestMetricsLabelsCarryNoSecrets: after traffic full of usernames,
// passwords, client ids and tokens, every label value of every ward_authz_
// series is one of the fixed constants, and the scraped text contains
// none of what the requests carried.
func TestMetricsLabelsCarryNoSecrets(t *testing.T) {
	h := newHarness(t, withLimits(func(rl *config.RateLimits) {
		rl.Token.Client = config.Rate{Rate: 1, Period: time.Hour}
		rl.Login.IP = config.Rate{Rate: 4, Period: time.Hour}
		rl.LoginFailures.Account = config.FailurePolicy{Free: 0, BaseDelay: time.Second, MaxDelay: time.Second, LockAfter: 1, LockFor: time.Hour, Forget: time.Hour}
	}))
	secrets := []string{"alice", testPassword, "victim.user@example.org", "hunter2-Sekr3t", "svc", "post", h.secrets["svc"], h.secrets["post"]}
	b := h.newBrowser()
	for _, u := range []string{"victim.user@example.org", "alice", "victim.user@example.org", "x\" ,tier=\"evil"} {
		b.login(loginPage(h, b), u, "hunter2-Sekr3t")
	}
	s := h.newSigner()
	r := h.token("svc", url.Values{"grant_type": {"client_credentials"}}, s)
	wantToken(t, r)
	secrets = append(secrets, r.str("access_token"))
	h.token("svc", url.Values{"grant_type": {"client_credentials"}}, s) // rate limited
	h.token("post", url.Values{"grant_type": {"evil\"grant"}, "refresh_token": {"rt-Sekr3t"}}, nil)
	h.post(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-Sekr3t"}}, "DPoP", "not.a.proof", "Authorization", "Bearer at-Sekr3t")
	secrets = append(secrets, "rt-Sekr3t", "at-Sekr3t", "evil", "not.a.proof")

	allowed := map[string]bool{}
	for _, g := range tokenGrants {
		allowed[string(g)] = true
	}
	for _, v := range slices.Concat(loginOutcomes, reuseOutcomes, tokenErrorCodes, userInfoOutcomes, bcReasons, bcOutcomes, esOutcomes, tokenSenders, []string{endpointToken, endpointPAR, endpointLogin, endpointDevice, endpointRegister, endpointEventsPush, "ip", "client", "global"}) {
		allowed[v] = true
	}
	for _, r := range dpopReasons {
		allowed[string(r)] = true
	}
	fams, err := h.s.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "ward_authz_") {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetCounter().GetValue() > 0 {
				moved++
			}
			for _, l := range m.GetLabel() {
				if !allowed[l.GetValue()] {
					t.Errorf("%s: label %s=%q is not one of the fixed values", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	if moved < 5 {
		t.Fatalf("only %d series moved: the traffic did not exercise the metrics", moved)
	}
	w := httptest.NewRecorder()
	h.s.MetricsHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	text, _ := io.ReadAll(w.Body)
	if w.Code != http.StatusOK || !strings.Contains(string(text), `ward_authz_login_failures_total{outcome="wrong_password_or_unknown_user"} 3`) {
		t.Fatalf("scrape %d:\n%s", w.Code, text)
	}
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Errorf("scrape line carries %q: %s", s, line)
			}
		}
	}
}

// TestMetricsRegistry: Options.Registry receives the metrics; a second
// server on the same registry counts on in the same series; a conflicting
// collector is a configuration error.
func TestMetricsRegistry(t *testing.T) {
	h := newHarness(t)
	km, err := keys.New(h.st, []keys.KEK{h.kek}, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.EnsureKey(context.Background(), h.clk.Now()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	mk := func() (*Server, error) {
		return New(h.cfg, Options{Store: h.st, Keys: km, Now: h.clk.Now, Registry: reg})
	}
	s1, err := mk()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := mk()
	if err != nil {
		t.Fatal(err)
	}
	s1.metrics.tokenIssued(oauth.GrantClientCredentials, senderDPoP)
	s2.metrics.tokenIssued(oauth.GrantClientCredentials, senderDPoP)
	if got := counters(t, s2)[issued(oauth.GrantClientCredentials)]; got != 2 {
		t.Fatalf("shared series = %v, want 2", got)
	}

	reg = prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ward_authz_tokens_issued_total", Help: "x"}, []string{"grant"}))
	if _, err := mk(); !errors.Is(err, ErrConfig) {
		t.Fatalf("conflicting registry: %v, want ErrConfig", err)
	}
}
