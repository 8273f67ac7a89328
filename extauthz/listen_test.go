package extauthz_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/extauthz"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/mtls/mtlstest"
)

// allowAll is a Decider that allows everything as client app.
type allowAll struct{}

func (allowAll) Decide(*http.Request) *gateway.Decision {
	return &gateway.Decision{Allowed: true, Status: 200, Header: http.Header{"X-Ward-Client": {"app"}}}
}

// TestTrustedListener: a connection from outside trusted_peers is closed
// before a byte is read.
func TestTrustedListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := extauthz.TrustedListener(ln, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, quiet)
	defer tl.Close()
	go func() {
		if c, err := tl.Accept(); err == nil {
			t.Error("a loopback connection was accepted")
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read %v, want EOF: the connection stays open", err)
	}
}

// TestClientCertificateRequired: with client_ca_files, a caller without
// a certificate of those CAs is refused at the handshake.
func TestClientCertificateRequired(t *testing.T) {
	dir := t.TempDir()
	serverCA, envoyCA := mtlstest.NewCA(t), mtlstest.NewCA(t)
	certFile, keyFile := serverCA.Issue(t, mtlstest.Options{DNSNames: []string{"ward.internal"}, ServerOnly: true}).WriteFiles(t, dir, "server")
	cfg := &config.ExtAuthz{Listen: "127.0.0.1:0", TLS: config.TLS{CertFile: certFile, KeyFile: keyFile}, ClientCAFiles: []string{envoyCA.WriteFile(t, dir)}}
	gs, err := extauthz.NewGRPCServer(extauthz.New(allowAll{}, extauthz.Options{Logger: quiet}), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- extauthz.Serve(ctx, gs, ln, time.Second) }()
	defer func() { cancel(); <-done }()
	call := func(client *mtlstest.Cert) error {
		tc := mtlstest.ClientTLSConfig(client, serverCA.Pool())
		tc.ServerName = "ward.internal"
		cc, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(tc)))
		if err != nil {
			return err
		}
		defer cc.Close()
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		_, err = authv3.NewAuthorizationClient(cc).Check(cctx, &authv3.CheckRequest{Attributes: attrs("GET", "https", "api.example", "/", nil)})
		return err
	}
	if err := call(envoyCA.Issue(t, mtlstest.Options{ClientOnly: true})); err != nil {
		t.Fatalf("Envoy's certificate: %v", err)
	}
	if err := call(nil); err == nil {
		t.Error("no client certificate: answered")
	}
	if err := call(serverCA.Issue(t, mtlstest.Options{ClientOnly: true})); err == nil {
		t.Error("a certificate of another CA: answered")
	}
}

// TestHealthService: the listener answers grpc.health.v1 for the
// authorization service (Envoy's grpc_health_check, Kubernetes probes),
// and stops when its context ends.
func TestHealthService(t *testing.T) {
	cfg := &config.ExtAuthz{Listen: "127.0.0.1:0"}
	gs, err := extauthz.NewGRPCServer(extauthz.New(allowAll{}, extauthz.Options{Logger: quiet}), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- extauthz.Serve(ctx, gs, ln, time.Second) }()
	cc, err := grpc.NewClient("passthrough:///"+ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	defer ccancel()
	resp, err := healthpb.NewHealthClient(cc).Check(cctx, &healthpb.HealthCheckRequest{Service: "envoy.service.auth.v3.Authorization"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("%v %v", resp, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}
