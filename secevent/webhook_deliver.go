package secevent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// outcome is what one attempt came to.
type outcome struct {
	ok         bool
	retry      bool          // worth another attempt
	reason     string        // the failure reason label
	status     int           // the response's status, 0 without one
	retryAfter time.Duration // the response's Retry-After, 0 without one
}

// Failure reasons (ward_security_webhook_failed_total{reason}).
const (
	failNetwork     = "network"      // no response: refused, reset, DNS
	failTimeout     = "timeout"      // no response within the attempt's timeout
	failServerError = "server_error" // 5xx: retried
	failRateLimited = "rate_limited" // 429: retried, Retry-After honoured
	failRejected    = "rejected"     // another 4xx: not retried
	failRedirect    = "redirect"     // 3xx: never followed, not retried
	failStatus      = "status"       // another status (1xx)
)

// deliver sends ev with its retries and counts the result. It returns
// false only when ctx ended first (the event is then neither delivered
// nor counted as failed: the caller decides).
func (w *Webhook) deliver(ctx context.Context, ev Event) bool {
	id, body := newWebhookID(), webhookBody(ev)
	var last outcome
	for n := 1; n <= w.opts.MaxAttempts; n++ {
		if n > 1 {
			w.metrics.retries.Inc()
			if w.opts.Sleep(ctx, w.backoff(n-1, last.retryAfter)) != nil {
				return false
			}
		}
		if w.wait(ctx) != nil {
			return false
		}
		last = w.attempt(ctx, id, body)
		if last.ok {
			w.metrics.delivered.Inc()
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if !last.retry {
			break
		}
	}
	w.metrics.failed.WithLabelValues(last.reason).Inc()
	w.logFailure(last.reason, "a webhook delivery failed", "event_type", string(ev.Type),
		"webhook_id", id, "status", last.status, "retryable", last.retry)
	return true
}

// attempt POSTs body once, signed with every key, and reads at most
// maxWebhookResponseBody of the answer.
func (w *Webhook) attempt(ctx context.Context, id string, body []byte) outcome {
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url.String(), bytes.NewReader(body))
	if err != nil {
		return outcome{reason: failNetwork}
	}
	ts := strconv.FormatInt(w.opts.Clock().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ward-webhook")
	req.Header[HeaderWebhookID] = []string{id}
	req.Header[HeaderWebhookTimestamp] = []string{ts}
	req.Header[HeaderWebhookSignature] = []string{signWebhook(w.opts.Keys, id, ts, body)}
	resp, err := w.client.Do(req)
	if err != nil {
		return outcome{retry: true, reason: networkReason(ctx, err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookResponseBody))
	_ = resp.Body.Close()
	return statusOutcome(resp, w.opts.Clock())
}

// networkReason tells a timeout from another transport failure. The
// error itself is not logged: it quotes the URL.
func networkReason(ctx context.Context, err error) string {
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return failTimeout
	}
	return failNetwork
}

// statusOutcome classifies a response (Standard Webhooks, "Delivery
// success and failure"): 2xx delivered; 5xx and 429 retried, honouring
// Retry-After; 3xx and other 4xx not retried.
func statusOutcome(resp *http.Response, now time.Time) outcome {
	s := resp.StatusCode
	switch {
	case s >= 200 && s < 300:
		return outcome{ok: true, status: s}
	case s == http.StatusTooManyRequests:
		return outcome{retry: true, reason: failRateLimited, status: s, retryAfter: retryAfter(resp.Header, now)}
	case s >= 500:
		return outcome{retry: true, reason: failServerError, status: s, retryAfter: retryAfter(resp.Header, now)}
	case s >= 400:
		return outcome{reason: failRejected, status: s}
	case s >= 300:
		return outcome{reason: failRedirect, status: s}
	}
	return outcome{reason: failStatus, status: s}
}

// retryAfter parses Retry-After (RFC 9110 §10.2.3): delay-seconds or an
// HTTP-date; 0 when absent or malformed.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is the wait before retry n (1 for the first): Backoff doubled
// each time, capped at MaxBackoff, with "equal jitter" (half fixed, half
// random) so that retries of many events do not fall in step; a longer
// Retry-After wins, capped at MaxBackoff too.
func (w *Webhook) backoff(n int, after time.Duration) time.Duration {
	d := w.opts.Backoff
	for i := 1; i < n && d < w.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.opts.MaxBackoff)
	d = d/2 + rand.N(d/2+1)
	return max(d, min(after, w.opts.MaxBackoff))
}

// wait takes a token of the webhook's rate limit, sleeping until one is
// there.
func (w *Webhook) wait(ctx context.Context) error {
	for {
		d := w.limit.take(w.opts.Clock())
		if d <= 0 {
			return nil
		}
		if err := w.opts.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bucket is a token bucket used by the webhook's one worker only.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// take spends a token and returns 0, or returns how long until one is
// there.
func (b *bucket) take(now time.Time) time.Duration {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1-b.tokens)/b.rate*float64(time.Second)) + time.Millisecond
}

// NewWebhookClient is the default HTTP client of a webhook: no cookies,
// no redirects, the proxy from the environment, and a dialer that
// refuses link-local (cloud metadata), unspecified and multicast
// addresses and, when plainHTTP, any address but loopback, whatever a
// name resolves to (DNS rebinding).
func NewWebhookClient(plainHTTP bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		return dialAllowed(address, plainHTTP)
	}}
	t := &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: d.DialContext,
		TLSHandshakeTimeout: 5 * time.Second, MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second,
		ForceAttemptHTTP2: true} // each attempt's context bounds it whole (Timeout)
	return &http.Client{Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// ErrWebhookAddress is a dial to an address a webhook may not reach.
var ErrWebhookAddress = errors.New("secevent: webhook address refused")

func dialAllowed(address string, plainHTTP bool) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWebhookAddress, err)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return fmt.Errorf("%w: %q is no IP address", ErrWebhookAddress, host)
	}
	a, _ := netip.AddrFromSlice(ip)
	if a.Unmap() == awsMetadataIPv6 {
		return fmt.Errorf("%w: %s is a cloud metadata address", ErrWebhookAddress, ip)
	}
	if plainHTTP && !ip.IsLoopback() {
		return fmt.Errorf("%w: plain http only to a loopback address, not %s", ErrWebhookAddress, ip)
	}
	if v4, ok := nat64IPv4(a); ok {
		ip = v4 // what the NAT64 gateway reaches
	}
	switch {
	case ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return fmt.Errorf("%w: %s is link-local, unspecified or multicast", ErrWebhookAddress, ip)
	}
	return nil
}

// awsMetadataIPv6 is AWS's IPv6 instance metadata service: a unique
// local address, which IsLinkLocalUnicast does not catch.
var awsMetadataIPv6 = netip.MustParseAddr("fd00:ec2::254")

// nat64Prefixes are the NAT64 prefixes, well-known (RFC 6052 §2.1) and
// local-use (RFC 8215): a NAT64 gateway forwards an address in them to
// the IPv4 address of its last 32 bits (the /96 form, RFC 6052 §2.2).
var nat64Prefixes = []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("64:ff9b:1::/48")}

// nat64IPv4 is the IPv4 address a NAT64 address a stands for.
func nat64IPv4(a netip.Addr) (net.IP, bool) {
	for _, p := range nat64Prefixes {
		if p.Contains(a) {
			b := a.As16()
			return net.IPv4(b[12], b[13], b[14], b[15]), true
		}
	}
	return nil, false
}

// WebhookURLAllowed checks a webhook URL before use (config): https, or
// http to a loopback IP address; no user information or
// fragment; no literal link-local, unspecified or multicast address.
func WebhookURLAllowed(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return errors.New("not an absolute URL")
	case u.User != nil:
		return errors.New("must not contain user information (put credentials in the secret, not the URL)")
	case u.Fragment != "" || u.RawFragment != "":
		return errors.New("must not have a fragment")
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		return errors.New("must use https (http only to a loopback IP address such as 127.0.0.1)")
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("must use https")
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil {
		if err := dialAllowed(net.JoinHostPort(ip.String(), "443"), false); err != nil {
			return errors.New("must not name a link-local, unspecified or multicast address")
		}
	}
	return nil
}

// loopbackHost: a loopback IP literal; "localhost" by name is refused,
// as for back-channel logout (docs/DECISIONS.md): it can resolve
// elsewhere.
func loopbackHost(h string) bool {
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

type webhookMetrics struct {
	delivered, dropped, retries prometheus.Counter
	failed                      *prometheus.CounterVec
	queue                       prometheus.GaugeFunc
}

func newWebhookMetrics(name string, queueLen func() float64) *webhookMetrics {
	l := prometheus.Labels{"webhook": name}
	return &webhookMetrics{
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_security_webhook_delivered_total",
			Help: "Security events a webhook delivered (2xx).", ConstLabels: l}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_security_webhook_dropped_total",
			Help: "Security events a webhook dropped: queue full, or left at shutdown.", ConstLabels: l}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_security_webhook_retries_total",
			Help: "Webhook delivery attempts after the first.", ConstLabels: l}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ward_security_webhook_failed_total",
			Help: "Security events a webhook gave up on, by the last attempt's reason.", ConstLabels: l}, []string{"reason"}),
		queue: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ward_security_webhook_queue_length",
			Help: "Security events waiting for a webhook.", ConstLabels: l}, queueLen),
	}
}

func (m *webhookMetrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.delivered, m.dropped, m.retries, m.failed, m.queue} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}
