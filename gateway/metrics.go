package gateway

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wardauth/ward/resource"
)

type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	rejections *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	reloads    *prometheus.CounterVec
	// accepted counts allowed requests with a token by what the token is
	// bound to (senderDPoP, senderMTLS, senderBearer), resolved once so
	// that an accepted request neither hashes labels nor allocates.
	accepted [3]prometheus.Counter

	// byOutcome holds the resolved requests and latency series per
	// (route, outcome), so a request does not hash its labels twice.
	// Both labels come from a bounded set: route names of the
	// configuration and the fixed outcomes.
	mu        sync.RWMutex
	byOutcome map[outcomeKey]outcomeSeries
}

type outcomeKey struct {
	route   string
	outcome Outcome
}

type outcomeSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		reg: reg, byOutcome: map[outcomeKey]outcomeSeries{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ward", Subsystem: "gateway", Name: "requests_total",
			Help: "Requests by route and outcome (allowed, public, rejected, denied, no_route, upstream_error; route well-known, outcome metadata: RFC 9728 documents).",
		}, []string{"route", "outcome"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ward", Subsystem: "gateway", Name: "rejections_total",
			Help: "Refused requests by stable reason (replayed, htu_mismatch, expired, bad_signature, ...) and OAuth error code.",
		}, []string{"reason", "error"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "ward", Subsystem: "gateway", Name: "request_duration_seconds",
			Help:    "Time from request to response headers, by route and outcome.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "outcome"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ward", Subsystem: "gateway", Name: "reloads_total",
			Help: "Configuration reloads by result (ok, refused).",
		}, []string{"result"}),
	}
	accepted := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "ward", Subsystem: "gateway", Name: "accepted_total",
		Help: "Allowed requests carrying a token, by what the token is bound to (sender: dpop, mtls, bearer): follows a DPoP roll-out.",
	}, []string{"sender"})
	for i, s := range senderLabels {
		m.accepted[i] = accepted.WithLabelValues(s)
	}
	reg.MustRegister(m.requests, m.rejections, m.latency, m.reloads, accepted)
	// The process and Go collectors may already be registered by the
	// caller on a shared registry.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(rec *record, d time.Duration) {
	k := outcomeKey{rec.route, rec.outcome}
	m.mu.RLock()
	s, ok := m.byOutcome[k]
	m.mu.RUnlock()
	if !ok {
		s = outcomeSeries{m.requests.WithLabelValues(k.route, string(k.outcome)), m.latency.WithLabelValues(k.route, string(k.outcome))}
		m.mu.Lock()
		m.byOutcome[k] = s
		m.mu.Unlock()
	}
	s.requests.Inc()
	s.latency.Observe(d.Seconds())
	if rec.outcome == OutcomeAllowed && rec.id != nil {
		m.accepted[sender(rec.id)].Inc()
	}
}

// The sender label values of ward_gateway_accepted_total, as
// ward_authz_tokens_issued_total names them.
const (
	senderDPoP = iota
	senderMTLS
	senderBearer
)

var senderLabels = [...]string{senderDPoP: "dpop", senderMTLS: "mtls", senderBearer: "bearer"}

// sender tells what an accepted token is bound to: a DPoP key (cnf.jkt,
// RFC 9449 §6), a certificate (cnf.x5t#S256, RFC 8705 §3) or nothing.
func sender(id *resource.Identity) int {
	switch {
	case id.JKT != "":
		return senderDPoP
	case id.X5TS256 != "":
		return senderMTLS
	}
	return senderBearer
}

// AdminHandler serves /metrics (Prometheus), /healthz (the process is
// up) and /readyz (a configuration is loaded and the gateway is not
// shutting down, followed by one line per trusted issuer with the cause
// of its last key or introspection failure). Serve it on a separate,
// private listener.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{}))
	if g.identity != nil {
		mux.HandleFunc("GET "+IdentityJWKSPath, g.identity.serveJWKS)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if !g.ready.Load() || g.state.Load() == nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
		switch ok, note := g.revocationReadiness(); {
		case !ok:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: " + note + "\n"))
		case note != "":
			_, _ = w.Write([]byte("ready; " + note + "\n"))
		default:
			_, _ = w.Write([]byte("ready\n"))
		}
		writeIssuerStatus(w, g.IssuerStatus())
	})
	return mux
}

// writeIssuerStatus lists the issuers' health (issuers.go). A failing
// issuer does not make the gateway unready: its tokens are answered 503,
// while the routes of other issuers, public routes and mounts still
// work, and every instance would fail alike.
func writeIssuerStatus(w io.Writer, sts []resource.IssuerStatus) {
	for _, st := range sts {
		state := "ok"
		if !st.Healthy() {
			state = fmt.Sprintf("error since %s: %s", st.LastErrorAt.UTC().Format(time.RFC3339), strings.ReplaceAll(st.LastError, "\n", " "))
		} else if st.LastOK.IsZero() {
			state = "no token checked yet"
		}
		fmt.Fprintf(w, "issuer %s (%s): %s\n", st.Name, st.Issuer, state)
	}
}
