package authz

import (
	"errors"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/oauth"
)

// Label values. Every label value of every metric is one of the constants
// of this file: never a username, client_id, address, token or anything
// else a request carries, so neither cardinality nor secrets can leak
// through /metrics. Every series is created at start, at zero.
const (
	// endpoint of ward_authz_rate_limited_total (the endpoint argument of
	// Server.allow and Server.allowPage).
	endpointToken = "token"
	endpointPAR   = "par"
	endpointLogin = "login"
	// endpointDevice: /device_authorization (JSON) and the /device page's
	// code entry (device_authorization.go, device_page.go).
	endpointDevice = "device"

	// outcome of ward_authz_login_failures_total. A wrong password and an
	// unknown username are one outcome: the metric must not tell them apart
	// any more than the login page does.
	loginWrongCredentials = "wrong_password_or_unknown_user"
	loginThrottled        = "throttled" // refused before the password check: a growing delay
	loginLocked           = "locked"    // refused before the password check: lock_after reached

	// outcome of ward_authz_refresh_reuse_total: a rotated refresh token
	// presented again.
	reuseGraceReissued = "grace_reissued" // lost answer: new pair, unused successor invalidated
	reuseFamilyRevoked = "family_revoked" // likely theft: the grant is revoked

	// userInfoOK is the outcome of a UserInfo answer; refusals are
	// counted by their OAuth error code (userInfoOutcomes).
	userInfoOK = "ok"
	// userInfoNoToken: a request without credentials (RFC 6750 §3.1).
	userInfoNoToken = "no_token"

	// labelOther stands for a value outside the fixed sets below (a new
	// error code or dpop.Reason not yet listed here).
	labelOther = "other"

	// sender of ward_authz_tokens_issued_total.
	senderDPoP   = "dpop"
	senderMTLS   = "mtls"
	senderBearer = "bearer"
)

var (
	// rateLimitedSeries are the endpoint and tier pairs of newLimits (the
	// tiers are its limiters' names); login is limited per ip only.
	rateLimitedSeries = [][2]string{
		{endpointToken, "ip"}, {endpointToken, "client"},
		{endpointPAR, "ip"}, {endpointPAR, "client"},
		{endpointLogin, "ip"},
		{endpointDevice, "ip"}, {endpointDevice, "client"}, {endpointDevice, "global"},
		{endpointRegister, "ip"}, {endpointRegister, "global"}, // register.go
		{endpointEventsPush, "ip"}, // events_push.go
	}
	loginOutcomes = []string{loginWrongCredentials, loginThrottled, loginLocked}
	reuseOutcomes = []string{reuseGraceReissued, reuseFamilyRevoked}
	tokenGrants   = []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials, oauth.GrantDeviceCode, oauth.GrantTokenExchange}
	// tokenSenders are the sender label of ward_authz_tokens_issued_total:
	// what the access token is bound to (RFC 9449 §6, RFC 8705 §3), so a
	// dashboard can follow a DPoP roll-out.
	tokenSenders = []string{senderDPoP, senderMTLS, senderBearer}
	// tokenErrorCodes are the codes /token can answer with (RFC 6749 §5.2,
	// RFC 8707 §2, RFC 9449 §5 and §8, and rate_limited).
	tokenErrorCodes = []string{
		oauth.InvalidRequest, oauth.InvalidClient, oauth.InvalidGrant, oauth.UnauthorizedClient,
		oauth.UnsupportedGrantType, oauth.InvalidScope, oauth.InvalidTarget, oauth.InvalidDPoPProof,
		oauth.UseDPoPNonce, oauth.ServerError, oauth.TemporarilyUnavailable, oauth.RateLimited, block.ErrorCode,
		oauth.AuthorizationPending, oauth.SlowDown, oauth.AccessDenied, oauth.ExpiredToken, labelOther,
	}
	// userInfoOutcomes are the outcomes of ward_authz_userinfo_requests_total.
	userInfoOutcomes = []string{
		userInfoOK, userInfoNoToken, oauth.InvalidRequest, oauth.InvalidToken, oauth.InsufficientScope,
		oauth.InvalidDPoPProof, oauth.UseDPoPNonce, oauth.ServerError, oauth.TemporarilyUnavailable, labelOther,
	}
	// dpopReasons are the stable reasons of package dpop.
	dpopReasons = []dpop.Reason{
		dpop.ReasonMissing, dpop.ReasonMultiple, dpop.ReasonTooLarge, dpop.ReasonMalformed,
		dpop.ReasonBadHeader, dpop.ReasonMissingClaim, dpop.ReasonBadClaim, dpop.ReasonBadType,
		dpop.ReasonBadAlgorithm, dpop.ReasonBadKey, dpop.ReasonPrivateKey, dpop.ReasonBadSignature,
		dpop.ReasonHTMMismatch, dpop.ReasonHTUMismatch, dpop.ReasonNonceMissing, dpop.ReasonNonceInvalid,
		dpop.ReasonIATTooOld, dpop.ReasonIATInFuture, dpop.ReasonATHMissing, dpop.ReasonATHMismatch,
		dpop.ReasonKeyMismatch, dpop.ReasonReplayed, dpop.ReasonReplayStoreFull, dpop.ReasonReplayStoreError,
		labelOther,
	}
)

// metrics are the authorization server's Prometheus counters, resolved to
// their series once at start: counting is one atomic add, with no label
// lookup on the token endpoint's path.
type metrics struct {
	reg *prometheus.Registry

	rateLimited map[[2]string]prometheus.Counter // by endpoint, tier
	login       [3]prometheus.Counter            // by loginOutcomes
	issued      [5][3]prometheus.Counter         // by tokenGrants, tokenSenders
	deviceFails prometheus.Counter               // wrong user codes on /device
	tokenErrors map[string]prometheus.Counter
	dpop        map[dpop.Reason]prometheus.Counter
	reuse       map[string]prometheus.Counter // by reuseOutcomes
	userinfo    map[string]prometheus.Counter // by userInfoOutcomes
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &metrics{
		reg:         reg,
		rateLimited: map[[2]string]prometheus.Counter{},
		tokenErrors: map[string]prometheus.Counter{},
		dpop:        map[dpop.Reason]prometheus.Counter{},
		reuse:       map[string]prometheus.Counter{},
		userinfo:    map[string]prometheus.Counter{},
	}
	// A second Server on the same registry (a restart in the same
	// process) counts on in the first one's series (counterVec).
	vec := func(name, help string, label ...string) (*prometheus.CounterVec, error) {
		return counterVec(reg, name, help, label...)
	}
	limited, err := vec("rate_limited_total",
		"Requests refused with 429 by a rate limit (rate_limits), by endpoint (token, par, login, register) and tier (ip, client).",
		"endpoint", "tier")
	if err != nil {
		return nil, err
	}
	for _, et := range rateLimitedSeries {
		m.rateLimited[et] = limited.WithLabelValues(et[0], et[1])
	}
	logins, err := vec("login_failures_total",
		"Sign-ins refused after the form's checks, by outcome: wrong_password_or_unknown_user (one outcome: no user enumeration), "+
			"throttled (a failed-login delay is running), locked (lock_after failures reached).",
		"outcome")
	if err != nil {
		return nil, err
	}
	for i, o := range loginOutcomes {
		m.login[i] = logins.WithLabelValues(o)
	}
	issued, err := vec("tokens_issued_total",
		"Successful token responses by grant type and sender constraint of the access token (dpop, mtls, bearer).",
		"grant", "sender")
	if err != nil {
		return nil, err
	}
	for i, g := range tokenGrants {
		for j, snd := range tokenSenders {
			m.issued[i][j] = issued.WithLabelValues(string(g), snd)
		}
	}
	tokenErrors, err := vec("token_errors_total",
		"Error responses of the token endpoint by OAuth error code (RFC 6749 §5.2, RFC 9449; rate_limited included).",
		"error")
	if err != nil {
		return nil, err
	}
	for _, c := range tokenErrorCodes {
		m.tokenErrors[c] = tokenErrors.WithLabelValues(c)
	}
	rejections, err := vec("dpop_rejections_total",
		"DPoP proofs refused at the token, PAR and UserInfo endpoints, by stable reason (package dpop; missing when no proof was sent but one was required).",
		"reason")
	if err != nil {
		return nil, err
	}
	for _, r := range dpopReasons {
		m.dpop[r] = rejections.WithLabelValues(string(r))
	}
	reuse, err := vec("refresh_reuse_total",
		"Rotated refresh tokens presented again, by outcome: grace_reissued (a sender-constrained grant's key within "+
			"tokens.refresh_token_reuse_grace, successor unused: a lost answer, new pair issued) or family_revoked (likely theft).",
		"outcome")
	if err != nil {
		return nil, err
	}
	for _, o := range reuseOutcomes {
		m.reuse[o] = reuse.WithLabelValues(o)
	}
	deviceFails, err := vec("device_user_code_failures_total",
		"Wrong, expired or already decided user codes entered on the device verification page (RFC 8628 §5.1).")
	if err != nil {
		return nil, err
	}
	m.deviceFails = deviceFails.WithLabelValues()
	if err := m.userInfoSeries(vec); err != nil {
		return nil, err
	}
	// As in the gateway: the caller may have registered these already on a
	// shared registry.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m, nil
}

// MetricsHandler serves the server's Prometheus metrics (the registry of
// Options.Registry, or the server's own). Serve it on a private admin
// listener, not under the issuer.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
}

// rateLimitedRequest counts a 429 of endpoint's tier limiter.
func (m *metrics) rateLimitedRequest(endpoint, tier string) {
	if c := m.rateLimited[[2]string{endpoint, tier}]; c != nil {
		c.Inc()
	}
}

// loginRefused counts a sign-in refused before the password check.
func (m *metrics) loginRefused(locked bool) {
	if locked {
		m.login[2].Inc()
	} else {
		m.login[1].Inc()
	}
}

// deviceCodeFailed counts a wrong user code (device_page.go).
func (m *metrics) deviceCodeFailed() { m.deviceFails.Inc() }

// loginFailed counts a wrong password or an unknown username, alike.
func (m *metrics) loginFailed() { m.login[0].Inc() }

// tokenIssued counts a successful token response of grant whose access
// token is bound as sender says (one of tokenSenders).
func (m *metrics) tokenIssued(grant oauth.GrantType, sender string) {
	j := slices.Index(tokenSenders, sender)
	i := slices.Index(tokenGrants, grant)
	if i < 0 || j < 0 {
		return
	}
	m.issued[i][j].Inc()
}

// refreshReuse counts a rotated refresh token presented again, by outcome
// (one of reuseOutcomes).
func (m *metrics) refreshReuse(outcome string) {
	if c := m.reuse[outcome]; c != nil {
		c.Inc()
	}
}

// userInfoSeries registers ward_authz_userinfo_requests_total.
func (m *metrics) userInfoSeries(vec func(name, help string, label ...string) (*prometheus.CounterVec, error)) error {
	v, err := vec("userinfo_requests_total",
		"UserInfo endpoint answers by outcome: ok, no_token (no credentials: a challenge), or the OAuth error code sent "+
			"(invalid_token, insufficient_scope, invalid_dpop_proof, use_dpop_nonce, ...).",
		"outcome")
	if err != nil {
		return err
	}
	for _, o := range userInfoOutcomes {
		m.userinfo[o] = v.WithLabelValues(o)
	}
	return nil
}

// userInfo counts a UserInfo answer by outcome: userInfoOK or the error
// code sent ("" for a request without credentials).
func (m *metrics) userInfo(outcome string) {
	if outcome == "" {
		outcome = userInfoNoToken
	}
	c := m.userinfo[outcome]
	if c == nil {
		c = m.userinfo[labelOther]
	}
	c.Inc()
}

// dpopRejected counts a refused DPoP proof by its reason.
func (m *metrics) dpopRejected(r dpop.Reason) {
	c := m.dpop[r]
	if c == nil {
		c = m.dpop[labelOther]
	}
	c.Inc()
}

// writeEndpointError is writeError for a JSON endpoint's refusal; the
// token endpoint's are counted by error code.
func (s *Server) writeEndpointError(w http.ResponseWriter, r *http.Request, endpoint string, err error) {
	code := asProtocolError(err).Code
	if code == block.ErrorCode {
		w.Header().Set(block.Header, code) // a blocked address or key (block.go)
	}
	if endpoint == endpointToken {
		c := s.metrics.tokenErrors[code]
		if c == nil {
			c = s.metrics.tokenErrors[labelOther]
		}
		c.Inc()
	}
	s.writeError(w, r, err)
}

// dpopReason is the stable reason of a refused proof (dpop.ProtocolError's input).
func dpopReason(err error) dpop.Reason {
	var de *dpop.Error
	if errors.As(err, &de) {
		return de.Reason
	}
	return labelOther
}
