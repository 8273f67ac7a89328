package authz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/store"
)

// Defaults of BackchannelOptions.
const (
	DefaultBackchannelAttempts   = 5
	DefaultBackchannelTimeout    = 5 * time.Second
	DefaultBackchannelBackoff    = 10 * time.Second
	DefaultBackchannelMaxBackoff = 10 * time.Minute
	DefaultBackchannelInterval   = 2 * time.Second
	// backchannelBatch bounds the deliveries one claim takes; they are
	// sent concurrently.
	backchannelBatch = 16
	// backchannelRetention: a delivery not done after this long is dropped
	// by Sweep, whatever its attempts (every instance down that long).
	backchannelRetention = 24 * time.Hour
)

// BackchannelOptions tune the delivery of back-channel logout tokens
// (Back-Channel Logout 1.0 §2.5; docs/OIDC.md). Zero fields take the
// defaults.
type BackchannelOptions struct {
	// Client sends the logout tokens. Default: a client of its own. It
	// never follows a redirect (one given here is copied and made so).
	Client *http.Client
	// Attempts bounds the sends of one logout token before Ward gives up
	// (DefaultBackchannelAttempts).
	Attempts int
	// Timeout bounds each attempt (DefaultBackchannelTimeout).
	Timeout time.Duration
	// Backoff is the wait after the first failed attempt, doubled after
	// each further one up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// Interval: how often Run looks for due deliveries (besides right
	// after each logout).
	Interval time.Duration
}

func (o *BackchannelOptions) setDefaults() {
	if o.Attempts <= 0 {
		o.Attempts = DefaultBackchannelAttempts
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultBackchannelTimeout
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackchannelBackoff
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = max(o.Backoff, DefaultBackchannelMaxBackoff)
	}
	if o.Interval <= 0 {
		o.Interval = DefaultBackchannelInterval
	}
	c := &http.Client{}
	if o.Client != nil {
		*c = *o.Client
	}
	// §2.5 names one URI; a redirect would send the token elsewhere.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.Client = c
}

// lease is how long a claim holds its deliveries: the attempt's timeout
// with room for signing and the store's answers.
func (o *BackchannelOptions) lease() time.Duration { return 2*o.Timeout + 10*time.Second }

// backoff is the wait after the attempts-th failed attempt.
func (o *BackchannelOptions) backoff(attempts int) time.Duration {
	d := o.Backoff
	for i := 1; i < attempts && d < o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, o.MaxBackoff)
}

// Reasons of a failed delivery attempt (the reason label of
// ward_authz_backchannel_logout_failures_total).
const (
	bcNetwork    = "network"      // no answer: connection refused, reset, TLS
	bcTimeout    = "timeout"      // no answer within BackchannelOptions.Timeout
	bcServer     = "server_error" // 5xx (and 429): retried
	bcRejected   = "rejected"     // another status (4xx: §2.8, the RP refused the token): not retried
	bcRedirect   = "redirect"     // 3xx: not followed, not retried
	bcSigning    = "signing"      // no key to sign with: retried
	bcStore      = "store"        // the client could not be read: retried
	bcClientGone = "client_gone"  // the client or its backchannel_logout_uri is gone: dropped
	bcURIRefused = "uri_refused"  // not https, nor http on a loopback address: dropped
)

var (
	bcReasons  = []string{bcNetwork, bcTimeout, bcServer, bcRejected, bcRedirect, bcSigning, bcStore, bcClientGone, bcURIRefused}
	bcOutcomes = []string{"delivered", "given_up"}
	// bcFinal are the reasons not worth another attempt.
	bcFinal = map[string]bool{bcRejected: true, bcRedirect: true, bcClientGone: true, bcURIRefused: true}
)

// backchannel is the Server's back-channel logout sender.
type backchannel struct {
	opts     BackchannelOptions
	kick     chan struct{} // a logout enqueued deliveries: Run drains now
	mu       sync.Mutex    // one drain at a time in this process
	failures map[string]prometheus.Counter
	outcomes map[string]prometheus.Counter
	// endSession counts the end_session endpoint's outcomes (endsession.go).
	endSession map[string]prometheus.Counter
}

func newBackchannel(opts BackchannelOptions, reg *prometheus.Registry) (*backchannel, error) {
	opts.setDefaults()
	b := &backchannel{opts: opts, kick: make(chan struct{}, 1),
		failures: map[string]prometheus.Counter{}, outcomes: map[string]prometheus.Counter{}}
	fv, err := counterVec(reg, "backchannel_logout_failures_total",
		"Failed back-channel logout deliveries (Back-Channel Logout 1.0 §2.5), one per failed attempt, by reason: "+
			"network, timeout, server_error, signing, store (retried), rejected, redirect, client_gone, uri_refused (not retried).",
		"reason")
	if err != nil {
		return nil, err
	}
	for _, r := range bcReasons {
		b.failures[r] = fv.WithLabelValues(r)
	}
	ov, err := counterVec(reg, "backchannel_logouts_total",
		"Back-channel logout tokens by final outcome: delivered, or given_up (after BackchannelOptions.Attempts, or a final failure).",
		"outcome")
	if err != nil {
		return nil, err
	}
	for _, o := range bcOutcomes {
		b.outcomes[o] = ov.WithLabelValues(o)
	}
	return b, endSessionCounters(b, reg)
}

// counterVec registers a ward_authz counter, or returns the one a
// previous Server registered on the same registry.
func counterVec(reg *prometheus.Registry, name, help string, label ...string) (*prometheus.CounterVec, error) {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ward", Subsystem: "authz", Name: name, Help: help}, label)
	if err := reg.Register(v); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return old, nil
			}
		}
		return nil, fmt.Errorf("%w: Options.Registry: %w", ErrConfig, err)
	}
	return v, nil
}

// kickBackchannel wakes Run's delivery loop without waiting.
func (s *Server) kickBackchannel() {
	select {
	case s.bc.kick <- struct{}{}:
	default:
	}
}

// DeliverLogouts sends the back-channel logout tokens due now (of every
// instance's logouts: the outbox is in the store) and returns how many it
// attempted. Run calls it; it is exported for tests and tools.
func (s *Server) DeliverLogouts(ctx context.Context) (int, error) {
	s.bc.mu.Lock()
	defer s.bc.mu.Unlock()
	claim := randomToken(16)
	ds, err := s.st.ClaimLogouts(ctx, claim, s.now(), s.bc.opts.lease(), backchannelBatch)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Go(func() { s.deliverLogout(ctx, d) })
	}
	wg.Wait()
	return len(ds), nil
}

// deliverLogout makes one attempt at d and records its outcome: done,
// due again after a backoff, or given up (final reason, or the last
// attempt). The token is never logged.
func (s *Server) deliverLogout(ctx context.Context, d *store.LogoutDelivery) {
	reason, status := s.sendLogout(ctx, d)
	var err error
	switch {
	case reason == "":
		s.bc.outcomes["delivered"].Inc()
		err = s.st.FinishLogout(ctx, d.ID, d.Claim)
	case bcFinal[reason] || d.Attempts >= s.bc.opts.Attempts:
		s.bc.failures[reason].Inc()
		s.bc.outcomes["given_up"].Inc()
		s.log.Warn("authz: back-channel logout given up", "client_id", d.ClientID, "reason", reason,
			"status", status, "attempts", d.Attempts)
		err = s.st.FinishLogout(ctx, d.ID, d.Claim)
	default:
		s.bc.failures[reason].Inc()
		err = s.st.RetryLogout(ctx, d.ID, d.Claim, s.now().Add(s.bc.opts.backoff(d.Attempts)))
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
		s.log.Error("authz: recording a back-channel logout", "client_id", d.ClientID, "err", err)
	}
}

// sendLogout POSTs a fresh logout token for d to its client's
// backchannel_logout_uri (§2.5) and returns "" on 200 or 204 (§2.8), else
// the failure's reason and the HTTP status (0 without an answer).
func (s *Server) sendLogout(ctx context.Context, d *store.LogoutDelivery) (reason string, status int) {
	c, err := s.st.GetClient(ctx, d.ClientID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.BackchannelLogoutURI == "") {
		return bcClientGone, 0
	}
	if err != nil {
		return bcStore, 0
	}
	if !backchannelURIAllowed(c.BackchannelLogoutURI) {
		return bcURIRefused, 0
	}
	tok, err := s.logoutToken(ctx, c, d.Subject, d.SID, s.now())
	if err != nil {
		return bcSigning, 0
	}
	ctx, cancel := context.WithTimeout(ctx, s.bc.opts.Timeout)
	defer cancel()
	body := url.Values{"logout_token": {tok}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI, strings.NewReader(body))
	if err != nil {
		return bcURIRefused, 0
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.bc.opts.Client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return bcTimeout, 0
		}
		return bcNetwork, 0
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code == http.StatusOK || code == http.StatusNoContent:
		return "", code
	case code >= 500 || code == http.StatusTooManyRequests:
		return bcServer, code
	case code >= 300 && code < 400:
		return bcRedirect, code
	default:
		return bcRejected, code
	}
}

// backchannelURIAllowed: logout tokens go only to an absolute https URL,
// or to http on a loopback IP literal (a receiver on the same host, for
// development), never with a fragment (§2.2). The configuration refuses
// anything else already (config: backchannel_logout_uri); this is checked
// again at each send for clients registered by other paths.
func backchannelURIAllowed(u string) bool {
	p, err := url.Parse(u)
	if err != nil || !p.IsAbs() || p.Host == "" || p.Fragment != "" || strings.Contains(u, "#") || p.User != nil {
		return false
	}
	if p.Scheme == "https" {
		return true
	}
	a, err := netip.ParseAddr(p.Hostname())
	return p.Scheme == "http" && err == nil && a.IsLoopback()
}

// runBackchannel is Run's delivery loop: every Interval, and right after
// a logout on this instance.
func (s *Server) runBackchannel(ctx context.Context) {
	t := time.NewTicker(s.bc.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.bc.kick:
		}
		for {
			n, err := s.DeliverLogouts(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Error("authz: delivering back-channel logouts", "err", err)
			}
			if err != nil || n < backchannelBatch {
				break
			}
		}
	}
}
