package extauthz

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/wardauth/ward/config"
)

// maxMessageBytes bounds a CheckRequest on the wire: headers are bounded
// again by Options.MaxHeaderBytes; Ward asks Envoy for no body.
const maxMessageBytes = 1 << 20

// NewGRPCServer returns a gRPC server with s and the gRPC health service
// (grpc.health.v1, SERVING) registered, configured by gateway.ext_authz: TLS 1.3 with its certificate, and Envoy's client
// certificate required when client_ca_files are set.
func NewGRPCServer(s *Server, cfg *config.ExtAuthz) (*grpc.Server, error) {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxMessageBytes),
		grpc.ConnectionTimeout(10 * time.Second),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 5 * time.Minute}),
	}
	if cfg.TLS.Enabled() {
		tc, err := serverTLS(cfg)
		if err != nil {
			return nil, fmt.Errorf("gateway.ext_authz.tls: %w", err)
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	gs := grpc.NewServer(opts...)
	authv3.RegisterAuthorizationServer(gs, s)
	// grpc.health.v1 for Envoy's grpc_health_check and Kubernetes probes.
	hs := health.NewServer()
	hs.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	return gs, nil
}

func serverTLS(cfg *config.ExtAuthz) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}}
	if len(cfg.ClientCAFiles) > 0 {
		pool := x509.NewCertPool()
		for _, f := range cfg.ClientCAFiles {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("%s: no PEM certificate", f)
			}
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// TrustedListener wraps ln so that connections from outside peers are
// closed before a byte is read (gateway.ext_authz.trusted_peers); nil
// peers trust every address.
func TrustedListener(ln net.Listener, peers []netip.Prefix, log *slog.Logger) net.Listener {
	if peers == nil {
		return ln
	}
	return &trustedListener{Listener: ln, peers: peers, log: log}
}

type trustedListener struct {
	net.Listener
	peers []netip.Prefix
	log   *slog.Logger
}

func (l *trustedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.trusted(c.RemoteAddr()) {
			return c, nil
		}
		l.log.Warn("ext_authz connection from an untrusted peer closed", "remote", c.RemoteAddr().String())
		c.Close()
	}
}

func (l *trustedListener) trusted(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return false
	}
	for _, p := range l.peers {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}

// Serve serves gs on ln until ctx ends, then lets in-flight checks finish
// for up to grace before closing every connection.
func Serve(ctx context.Context, gs *grpc.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		gs.Stop()
		<-done
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}
