package extauthz_test

import (
	"context"
	"fmt"
	"net/http"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/wardauth/ward/extauthz"
	"github.com/wardauth/ward/gateway"
)

// tokenRequired stands in for *gateway.Gateway: it refuses requests
// without an Authorization header as the gateway does.
type tokenRequired struct{}

func (tokenRequired) Decide(r *http.Request) *gateway.Decision {
	if r.Header.Get("Authorization") == "" {
		return &gateway.Decision{Status: http.StatusUnauthorized, Reason: "token_missing",
			Header: http.Header{"Www-Authenticate": {`DPoP algs="ES256 EdDSA"`}}}
	}
	return &gateway.Decision{Allowed: true, Status: http.StatusOK,
		Header: http.Header{"X-Ward-Subject": {"alice"}}, Remove: []string{"Authorization", "Dpop", "X-Ward-Subject"}}
}

// A CheckRequest as Envoy's HTTP ext_authz filter sends it, answered with
// the decision. In `ward serve`, gateway.ext_authz serves the gateway
// itself: extauthz.NewGRPCServer(extauthz.New(gw, opts), &cfg.Gateway.ExtAuthz).
func ExampleServer_Check() {
	s := extauthz.New(tokenRequired{}, extauthz.Options{})
	req := func(hdr map[string]string) *authv3.CheckRequest {
		return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
				SocketAddress: &corev3.SocketAddress{Address: "203.0.113.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}}},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Scheme: "https", Host: "api.example", Path: "/orders/1", Headers: hdr}},
		}}
	}

	resp, _ := s.Check(context.Background(), req(map[string]string{":authority": "api.example"}))
	d := resp.GetDeniedResponse()
	fmt.Println(resp.GetStatus().GetCode(), d.GetStatus().GetCode(), d.GetHeaders()[0].GetHeader().GetKey(), d.GetHeaders()[0].GetHeader().GetValue())

	resp, _ = s.Check(context.Background(), req(map[string]string{"authorization": "DPoP eyJ...", "dpop": "eyJ...", "x-ward-subject": "admin"}))
	ok := resp.GetOkResponse()
	fmt.Println(resp.GetStatus().GetCode(), ok.GetHeaders()[0].GetHeader().GetKey(), ok.GetHeaders()[0].GetHeader().GetValue(), ok.GetHeadersToRemove())
	// Output:
	// 16 Unauthorized www-authenticate DPoP algs="ES256 EdDSA"
	// 0 x-ward-subject alice [authorization dpop]
}
