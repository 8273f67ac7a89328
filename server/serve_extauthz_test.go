package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wardauth/ward/internal/wardtest"
)

// TestServeExtAuthz: `ward serve` with gateway.ext_authz answers Envoy's
// Check on its own listener with the gateway's decision (no token: 401
// and the DPoP challenge), and returns cleanly when its context ends.
func TestServeExtAuthz(t *testing.T) {
	dir := t.TempDir()
	kekFile := writeKEK(t, dir)
	eaAddr := wardtest.FreeAddr(t)
	r := startServer(t, dir, fmt.Sprintf(`issuer: https://as.example
listen: %s
behind_tls_proxy: {trusted_proxies: [127.0.0.1/32]}
data_dir: %q
keys: {kek_file: %q}
authorization_server: {enabled: false}
gateway:
  enabled: true
  listen: %s
  admin_listen: %s
  public_url: https://api.example
  routes:
    - name: orders
      path_prefix: /orders/
      upstream: http://127.0.0.1:1
      policy: [{action: allow, principals: ["client:app"]}]
  ext_authz:
    listen: %s
`, wardtest.FreeAddr(t), dir, kekFile, wardtest.FreeAddr(t), wardtest.FreeAddr(t), eaAddr))

	cc, err := grpc.NewClient("passthrough:///"+eaAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ea := authv3.NewAuthorizationClient(cc)
	req := ordersCheck()
	var resp *authv3.CheckResponse
	r.waitFor(t, "ext_authz answers", func() error {
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer ccancel()
		resp, err = ea.Check(cctx, req)
		return err
	})
	d := resp.GetDeniedResponse()
	if codes.Code(resp.GetStatus().GetCode()) != codes.Unauthenticated || d.GetStatus().GetCode() != 401 {
		t.Fatalf("%v", resp)
	}
	if challenge := deniedHeader(d, "www-authenticate"); !strings.HasPrefix(challenge, "DPoP ") {
		t.Errorf("challenge %q", challenge)
	}
	if !strings.Contains(r.stdout.String(), "ext_authz") {
		t.Errorf("the listener is not announced:\n%s", r.stdout.String())
	}
	r.stop(t)
}

// ordersCheck is Envoy's Check for GET https://api.example/orders/1 from
// 203.0.113.7, without a token.
func ordersCheck() *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "203.0.113.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Scheme: "https", Host: "api.example", Path: "/orders/1", Headers: map[string]string{":authority": "api.example"},
		}},
	}}
}

// deniedHeader is the value of the header key of a denied response.
func deniedHeader(d *authv3.DeniedHttpResponse, key string) string {
	for _, h := range d.GetHeaders() {
		if h.GetHeader().GetKey() == key {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}
