package gateway

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/policy"
	"github.com/wardauth/ward/resource"
)

// clientCerts is the gateway's client-certificate machinery (gateway.mtls):
// the reloading TLS 1.3 listener configuration, the CAs forwarded
// certificates are verified against, and the trusted proxy.
type clientCerts struct {
	server *mtls.ServerConfig // with gateway.tls: the listener's reloading configuration
	files  *caFiles           // without gateway.tls: the client CAs alone
	proxy  *mtls.TrustedProxy // nil without forwarded_cert_header
	// verify checks, against the client CAs, a certificate a front door
	// put in r.TLS without a handshake of Ward's (ext_authz's forwarded
	// peer certificate); it reads no header.
	verify   *mtls.TrustedProxy
	interval time.Duration
	failures *prometheus.CounterVec
}

func (g *Gateway) setupClientCerts(cfg *config.Gateway) error {
	m := &cfg.MTLS
	cc := &clientCerts{interval: m.Interval()}
	cc.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "ward", Subsystem: "gateway", Name: "tls_handshake_failures_total",
		Help: "Failed TLS handshakes on the gateway listener by reason (tls_version, cert_expired, cert_untrusted, cert_missing, cert_usage, handshake).",
	}, []string{"reason"})
	for _, r := range handshakeReasons {
		cc.failures.WithLabelValues(r.reason)
	}
	cc.failures.WithLabelValues("handshake")
	g.opts.Registry.MustRegister(cc.failures)
	g.certs = cc
	if !m.Enabled() {
		return nil
	}
	var roots mtls.CAPool
	if cfg.TLS.Enabled() {
		opts := []mtls.Option{mtls.WithLogger(g.log)}
		if m.RequireClientCert {
			opts = append(opts, mtls.RequireClientCert())
		}
		s, err := mtls.NewServerConfig(cfg.TLS.CertFile, cfg.TLS.KeyFile, m.ClientCAFiles, opts...)
		if err != nil {
			return fmt.Errorf("%w: gateway.mtls: %v", ErrConfig, err)
		}
		cc.server, roots = s, s
	} else {
		f, err := loadCAFiles(m.ClientCAFiles)
		if err != nil {
			return fmt.Errorf("%w: gateway.mtls.client_ca_files: %v", ErrConfig, err)
		}
		cc.files, roots = f, f
	}
	if m.ForwardedCertHeader != "" {
		cc.proxy = &mtls.TrustedProxy{Header: m.ForwardedCertHeader, Trusted: cfg.BehindTLSProxy.TrustedProxies, Roots: roots}
	}
	cc.verify = cc.proxy
	if cc.verify == nil {
		cc.verify = &mtls.TrustedProxy{Roots: roots}
	}
	return nil
}

// ClientCertificate returns the request's verified client certificate:
// the one of the TLS handshake (verified by the listener against
// gateway.mtls.client_ca_files), else one forwarded by a trusted proxy and
// verified again; nil without either. A certificate in r.TLS that no
// handshake of Ward's verified (a front door such as ext_authz rebuilt the
// request) is verified against the client CAs. It is the
// resource.CertificateSource of the gateway's token checks.
func (g *Gateway) ClientCertificate(r *http.Request) (*x509.Certificate, error) {
	cc := g.certs
	if cc == nil || cc.verify == nil {
		return nil, nil // no verified certificate can be had
	}
	c, err := mtls.ClientCertificate(r, cc.verify)
	if errors.Is(err, mtls.ErrNoCertificate) {
		return nil, nil
	}
	return c, err
}

var _ resource.CertificateSource = (*Gateway)(nil).ClientCertificate

// stripForwardedCert removes the forwarded-certificate header from a
// request that does not come from a trusted proxy, before anything reads
// it.
func (g *Gateway) stripForwardedCert(r *http.Request) {
	if g.certs != nil && g.certs.proxy != nil {
		g.certs.proxy.Strip(r)
	}
}

// withoutClientCertHeader returns r without the forwarded-certificate
// header, and the header's name when r had it. A request handed to Decide
// is the client's own (a front door puts a certificate its proxy vouches
// for in r.TLS), so the header in it is the client's, whatever its
// address: a copy of someone's certificate is not possession of its key.
// r itself is left as it is.
func (g *Gateway) withoutClientCertHeader(r *http.Request) (*http.Request, string) {
	if g.certs == nil || g.certs.proxy == nil {
		return r, ""
	}
	name := http.CanonicalHeaderKey(g.certs.proxy.Header)
	if _, ok := r.Header[name]; !ok {
		return r, ""
	}
	c := *r
	c.Header = r.Header.Clone()
	delete(c.Header, name)
	return &c, name
}

// TLSConfig returns the listener's reloading TLS 1.3 configuration with
// client-certificate verification, or nil when gateway.mtls is off or
// gateway.tls is not set (Server uses it).
func (g *Gateway) TLSConfig() *mtls.ServerConfig {
	if g.certs == nil {
		return nil
	}
	return g.certs.server
}

// WatchCertificates reloads the listener's certificate, key and client CAs
// (or the client CAs alone) when the files change, every
// gateway.mtls.reload_interval, until ctx is done. Serve runs it.
func (g *Gateway) WatchCertificates(ctx context.Context) {
	cc := g.certs
	switch {
	case cc == nil:
	case cc.server != nil:
		cc.server.Watch(ctx, cc.interval)
	case cc.files != nil:
		cc.files.watch(ctx, cc.interval, g.log)
	}
}

// ReloadCertificates reloads the TLS and CA files now when they changed;
// an invalid file keeps the previous ones and is reported.
func (g *Gateway) ReloadCertificates() (changed bool, err error) {
	cc := g.certs
	switch {
	case cc == nil:
	case cc.server != nil:
		return cc.server.ReloadIfChanged()
	case cc.files != nil:
		return cc.files.reloadIfChanged()
	}
	return false, nil
}

// certificateOnly authenticates a request on a route of
// gateway.mtls.certificate_routes: the verified client certificate's
// SPIFFE ID is the identity (also its Subject, for rate limits and the
// identity JWT).
func (g *Gateway) certificateOnly(r *http.Request) (*resource.Identity, *oauth.Error) {
	cert, err := g.ClientCertificate(r)
	refuse := func(reason, desc string, cause error) *oauth.Error {
		return &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusUnauthorized, Reason: reason, Description: desc, Err: cause}
	}
	switch {
	case err != nil:
		return nil, refuse(resource.ReasonCertInvalid, "the forwarded client certificate cannot be used", err)
	case cert == nil:
		return nil, refuse(resource.ReasonCertMissing, "this route authenticates by client certificate: present one in the TLS handshake", nil)
	}
	id, ok := mtls.SPIFFEID(cert)
	if !ok {
		return nil, refuse(ReasonCertNoSPIFFEID, "the client certificate has no SPIFFE ID (exactly one spiffe:// URI SAN)", nil)
	}
	return &resource.Identity{Subject: id.String(), SPIFFEID: id.String(), CertThumbprint: mtls.Thumbprint(cert)}, nil
}

// ReasonCertNoSPIFFEID: a certificate-only route got a certificate without
// a SPIFFE ID.
const ReasonCertNoSPIFFEID = "cert_no_spiffe_id"

// principals of a verified identity, for the route policy.
func principals(id *resource.Identity) []policy.Principal {
	var ps []policy.Principal
	if id.ClientID != "" {
		ps = append(ps, policy.Client(id.ClientID))
	}
	if id.Subject != "" && id.Subject != id.SPIFFEID {
		ps = append(ps, policy.Subject(id.Subject))
	}
	if id.SPIFFEID != "" {
		ps = append(ps, policy.Principal(id.SPIFFEID))
	}
	return ps
}

// handshakeReasons classifies the TLS handshake errors net/http logs, by
// a fragment of crypto/tls's or crypto/x509's message.
var handshakeReasons = []struct{ fragment, reason string }{
	{"protocol version", "tls_version"},
	{"unsupported versions", "tls_version"},
	{"has expired or is not yet valid", "cert_expired"},
	{"unknown authority", "cert_untrusted"},
	{"certificate required", "cert_missing"},
	{"didn't provide a certificate", "cert_missing"},
	{"incompatible key usage", "cert_usage"},
}

// handshakeLog is the listener's http.Server ErrorLog: a failed TLS
// handshake is logged with a stable reason and counted; other messages
// are logged as they are.
type handshakeLog struct {
	log      *slog.Logger
	failures *prometheus.CounterVec
}

func (h *handshakeLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	rest, ok := strings.CutPrefix(msg, "http: TLS handshake error from ")
	if !ok {
		h.log.Warn("gateway listener", "err", msg)
		return len(p), nil
	}
	remote, cause, _ := strings.Cut(rest, ": ")
	reason := "handshake"
	for _, r := range handshakeReasons {
		if strings.Contains(cause, r.fragment) {
			reason = r.reason
			break
		}
	}
	if reason == "handshake" && (strings.HasSuffix(cause, "EOF") || strings.Contains(cause, "connection reset")) {
		// A client that went away: not worth a warning or a series.
		h.log.Debug("TLS handshake abandoned", "remote", remote, "err", cause)
		return len(p), nil
	}
	h.failures.WithLabelValues(reason).Inc()
	h.log.Warn("TLS handshake refused", "reason", reason, "remote", remote, "err", cause)
	return len(p), nil
}

func (g *Gateway) errorLog() *log.Logger {
	if g.certs == nil {
		return nil
	}
	return log.New(&handshakeLog{log: g.log, failures: g.certs.failures}, "", 0)
}

// caFiles are client CAs read from files and swapped atomically on
// change, for a gateway behind a TLS proxy (no TLS listener of its own).
type caFiles struct {
	names  []string
	mu     sync.Mutex
	pool   atomic.Pointer[x509.CertPool]
	stamps string
}

var _ mtls.CAPool = (*caFiles)(nil)

func loadCAFiles(names []string) (*caFiles, error) {
	f := &caFiles{names: slices.Clone(names)}
	if _, err := f.reloadIfChanged(); err != nil {
		return nil, err
	}
	return f, nil
}

// ClientCAs returns the current pool.
func (f *caFiles) ClientCAs() *x509.CertPool { return f.pool.Load() }

func (f *caFiles) reloadIfChanged() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := stamps(f.names)
	if st == f.stamps && f.pool.Load() != nil {
		return false, nil
	}
	pool := x509.NewCertPool()
	for _, n := range f.names {
		b, err := os.ReadFile(n)
		if err != nil {
			return true, err
		}
		if b = bytes.TrimSpace(b); len(b) == 0 {
			return true, fmt.Errorf("%s: empty", n)
		}
		for len(b) > 0 {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil || blk.Type != "CERTIFICATE" {
				return true, fmt.Errorf("%s: not a PEM certificate bundle", n)
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return true, fmt.Errorf("%s: %v", n, err)
			}
			pool.AddCert(c)
			b = bytes.TrimSpace(b)
		}
	}
	f.pool.Store(pool)
	f.stamps = st
	return true, nil
}

func (f *caFiles) watch(ctx context.Context, every time.Duration, l *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		switch changed, err := f.reloadIfChanged(); {
		case err != nil:
			l.Error("client CA files not reloaded; keeping the previous ones", "err", err)
		case changed:
			l.Info("client CA files reloaded")
		}
	}
}
