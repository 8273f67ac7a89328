package mtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Option configures a [ServerConfig]. Options are sealed: only this package
// creates them.
type Option interface{ apply(*serverOptions) }

type serverOptions struct {
	require    bool
	unverified bool
	logger     *slog.Logger
	nextProtos []string
}

type optionFunc func(*serverOptions)

func (f optionFunc) apply(o *serverOptions) { f(o) }

// RequireClientCert makes the listener refuse handshakes without a client
// certificate (tls.RequireAndVerifyClientCert). By default a certificate is
// verified when given but not required (tls.VerifyClientCertIfGiven), so one
// listener can serve both mTLS and DPoP or bearer clients.
func RequireClientCert() Option {
	return optionFunc(func(o *serverOptions) { o.require = true })
}

// AllowUnverifiedClientCerts makes the handshake accept any client
// certificate (tls.RequestClientCert, or RequireAnyClientCert with
// RequireClientCert) and leaves verification to the application: RFC 8705
// self_signed_tls_client_auth needs this, since such certificates chain to no
// CA. [ClientCertificate] then verifies against the client CAs itself, and
// [PresentedCertificate] returns the unverified leaf.
func AllowUnverifiedClientCerts() Option {
	return optionFunc(func(o *serverOptions) { o.unverified = true })
}

// WithLogger sets where [ServerConfig.Watch] reports reloads and refused
// files, and where failed client handshakes are reported. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *serverOptions) { o.logger = l })
}

// WithNextProtos sets the ALPN protocols. Default: h2, http/1.1.
func WithNextProtos(protos ...string) Option {
	return optionFunc(func(o *serverOptions) { o.nextProtos = slices.Clone(protos) })
}

// ServerConfig is a TLS 1.3-only server configuration whose certificate, key
// and client CAs are read from files and can be reloaded while the listener
// runs. Handshakes read an atomically swapped snapshot; a reload that fails
// keeps the previous snapshot. It is safe for concurrent use.
type ServerConfig struct {
	certFile, keyFile string
	caFiles           []string
	opts              serverOptions

	mu   sync.Mutex // serialises reloads
	snap atomic.Pointer[snapshot]
}

// CAPool is implemented by [ServerConfig]: the current client CAs.
type CAPool interface {
	ClientCAs() *x509.CertPool
}

var _ CAPool = (*ServerConfig)(nil)

type snapshot struct {
	config *tls.Config
	pool   *x509.CertPool
	stamps []fileStamp
}

type fileStamp struct {
	name string
	mod  time.Time
	size int64
}

// NewServerConfig loads certFile and keyFile (PEM; certFile may hold the
// chain) and the client CAs (PEM bundles, at least one file unless no client
// certificates are wanted). It fails if any file is unusable.
func NewServerConfig(certFile, keyFile string, clientCAFiles []string, opts ...Option) (*ServerConfig, error) {
	s := &ServerConfig{
		certFile: certFile,
		keyFile:  keyFile,
		caFiles:  slices.Clone(clientCAFiles),
		opts: serverOptions{
			logger:     slog.Default(),
			nextProtos: []string{"h2", "http/1.1"},
		},
	}
	for _, o := range opts {
		o.apply(&s.opts)
	}
	if s.opts.require && !s.opts.unverified && len(s.caFiles) == 0 {
		return nil, fmt.Errorf("%w: client certificates required but no client CA files", ErrConfig)
	}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// TLSConfig returns the configuration to give to http.Server or tls.Listen.
// Every handshake uses the snapshot current at that moment.
func (s *ServerConfig) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: slices.Clone(s.opts.nextProtos),
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.snap.Load().config, nil
		},
	}
}

// ClientCAs returns the current client CA pool (nil when none is configured).
// It is what a [TrustedProxy] verifies forwarded certificates against.
func (s *ServerConfig) ClientCAs() *x509.CertPool { return s.snap.Load().pool }

// Reload reads the files again and swaps in the new snapshot. If any file is
// invalid the current snapshot stays and the error says why.
func (s *ServerConfig) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reload()
}

func (s *ServerConfig) reload() error {
	stamps, err := s.stat()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("%w: certificate %s / key %s: %v", ErrConfig, s.certFile, s.keyFile, err)
	}
	var pool *x509.CertPool
	if len(s.caFiles) > 0 {
		pool = x509.NewCertPool()
		for _, f := range s.caFiles {
			if err := addPEMFile(pool, f); err != nil {
				return err
			}
		}
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   s.clientAuth(pool != nil),
		ClientCAs:    pool,
		NextProtos:   slices.Clone(s.opts.nextProtos),
	}
	s.snap.Store(&snapshot{config: cfg, pool: pool, stamps: stamps})
	return nil
}

func (s *ServerConfig) clientAuth(havePool bool) tls.ClientAuthType {
	switch {
	case s.opts.unverified && s.opts.require:
		return tls.RequireAnyClientCert
	case s.opts.unverified:
		return tls.RequestClientCert
	case !havePool:
		return tls.NoClientCert
	case s.opts.require:
		return tls.RequireAndVerifyClientCert
	default:
		return tls.VerifyClientCertIfGiven
	}
}

func addPEMFile(pool *x509.CertPool, name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("%w: client CA: %v", ErrConfig, err)
	}
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("%w: client CA %s: %v", ErrConfig, name, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return fmt.Errorf("%w: client CA %s: no PEM certificate", ErrConfig, name)
	}
	return nil
}

func (s *ServerConfig) stat() ([]fileStamp, error) {
	names := append([]string{s.certFile, s.keyFile}, s.caFiles...)
	out := make([]fileStamp, 0, len(names))
	for _, n := range names {
		fi, err := os.Stat(n)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		out = append(out, fileStamp{name: n, mod: fi.ModTime(), size: fi.Size()})
	}
	return out, nil
}

// ReloadIfChanged reloads when the modification time or size of any file
// differs from the current snapshot's. changed reports whether the files
// differed; err is non-nil when they did but could not be loaded (the old
// snapshot stays, and the same files are tried again next time).
func (s *ServerConfig) ReloadIfChanged() (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stamps, err := s.stat()
	if err != nil {
		return true, err
	}
	if slices.Equal(stamps, s.snap.Load().stamps) {
		return false, nil
	}
	return true, s.reload()
}

// Watch polls the files every interval until ctx is done, reloading on
// change. Reloads and refused files are logged; a refused file is logged
// once per change.
func (s *ServerConfig) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := s.ReloadIfChanged()
		switch {
		case err != nil:
			if err.Error() != lastErr {
				s.opts.logger.Error("mtls: TLS files not reloaded, keeping the previous ones", "err", err)
				lastErr = err.Error()
			}
		case changed:
			lastErr = ""
			s.opts.logger.Info("mtls: TLS certificate and client CAs reloaded", "cert", s.certFile)
		}
	}
}
