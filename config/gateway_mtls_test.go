package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
)

const gwMTLS = gwBase + `    - name: charges
      path_prefix: /api/v1/charges
      upstream: http://10.0.0.6:8080
      policy:
        - {action: allow, principals: ["spiffe://prod/ns/payments/sa/order-service"], methods: [POST]}
  tls: {cert_file: server.pem, key_file: server-key.pem}
  mtls:
    client_ca_files: [ca.pem]
    certificate_routes: [charges]
`

func TestGatewayMTLSValid(t *testing.T) {
	c, err := load("ward.yaml", gwMTLS, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Gateway.MTLS
	if !m.Enabled() || !m.CertificateRoute("charges") || m.CertificateRoute("orders") {
		t.Errorf("%+v", m)
	}
	if m.SPIFFEIDHeaderName() != "X-Ward-SPIFFE-ID" || m.ThumbprintHeaderName() != "X-Ward-Cert-Thumbprint" || m.Interval().String() != "30s" {
		t.Errorf("defaults: %q %q %v", m.SPIFFEIDHeaderName(), m.ThumbprintHeaderName(), m.Interval())
	}
}

func TestGatewayMTLSErrors(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, want string
		sentinel         error
	}{
		{"forwarded header without trusted proxies", gwMTLS + "    forwarded_cert_header: X-Client-Cert\n",
			`gateway.mtls.forwarded_cert_header: needs gateway.behind_tls_proxy.trusted_proxies or gateway.authorizer.trusted_proxies: the header is read only from those addresses`, config.ErrMissing},
		{"client CAs without TLS or proxy", strings.Replace(gwMTLS, "  tls: {cert_file: server.pem, key_file: server-key.pem}\n", "", 1),
			`gateway.mtls.client_ca_files: used only with gateway.tls (the listener verifies client certificates), forwarded_cert_header (a trusted proxy forwards them) or ext_authz (Envoy forwards them)`, config.ErrInvalidValue},
		{"certificate route with a client principal", strings.Replace(gwMTLS, `["spiffe://prod/ns/payments/sa/order-service"]`, `["client:shop"]`, 1),
			`gateway.routes[2].policy[0].principals[0]: "client:shop": a certificate-only route's principals are spiffe:// IDs or prefixes`, config.ErrInvalidValue},
		{"certificate route with scopes", strings.Replace(gwMTLS, "methods: [POST]}", "methods: [POST], scopes: [pay]}", 1),
			`gateway.routes[2].policy[0].scopes: a certificate-only route has no token, hence no scopes`, config.ErrInvalidValue},
		{"unknown certificate route", strings.Replace(gwMTLS, "certificate_routes: [charges]", "certificate_routes: [charge]", 1),
			`gateway.mtls.certificate_routes[0]: no route is named "charge"`, config.ErrInvalidValue},
		{"bad SPIFFE principal", strings.Replace(gwMTLS, "spiffe://prod/ns/payments/sa/order-service", "spiffe://Prod/x", 1),
			`is not a SPIFFE ID: trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores`, config.ErrInvalidValue},
		{"SPIFFE header reuses an identity header", gwMTLS + "    spiffe_id_header: X-Ward-Subject\n",
			`gateway.mtls.spiffe_id_header: "X-Ward-Subject" is already used by another identity or certificate header`, config.ErrInvalidValue},
		{"require without TLS", strings.Replace(gwMTLS, "  tls: {cert_file: server.pem, key_file: server-key.pem}\n", "", 1) + "    require_client_cert: true\n",
			`gateway.mtls.require_client_cert: needs gateway.tls`, config.ErrInvalidValue},
		{"reload too often", gwMTLS + "    reload_interval: 10ms\n",
			`gateway.mtls.reload_interval: must be at least 1s (0: default 30s)`, config.ErrInvalidValue},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load("ward.yaml", tt.yaml, noEnv)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("does not wrap %v", tt.sentinel)
			}
		})
	}
}
