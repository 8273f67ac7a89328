package config

import (
	"github.com/wardauth/ward/oauth"
	"strings"
	"testing"
	"time"
)

func TestMTLSValidate(t *testing.T) {
	ok := `issuer: https://auth.example.com
tls: {cert_file: s.pem, key_file: s-key.pem}
behind_tls_proxy: {trusted_proxies: [10.0.0.0/8]}
keys: {kek_file: kek}
mtls:
  client_ca_files: [ca.pem]
  listen: 0.0.0.0:9443
  endpoint_base_url: https://mtls.auth.example.com
  forwarded_cert_header: X-Client-Cert
  reload_interval: 10s
`
	c := Default()
	if err := c.Decode("ward.yaml", []byte(ok)); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid mtls: %v", err)
	}
	if !c.MTLS.Enabled() || c.MTLS.Interval() != 10*time.Second {
		t.Fatalf("decoded %+v", c.MTLS)
	}

	bad := `issuer: https://auth.example.com
keys: {kek_file: kek}
mtls:
  client_ca_files: [ca.pem, ""]
  listen: nowhere
  endpoint_base_url: http://mtls.example/
  forwarded_cert_header: "X Client"
  reload_interval: 10ms
`
	c = Default()
	if err := c.Decode("ward.yaml", []byte(bad)); err != nil {
		t.Fatal(err)
	}
	err := c.Validate()
	for _, want := range []string{
		`ward.yaml:4: mtls.client_ca_files[1]: empty file name`,
		`ward.yaml:5: mtls.listen: "nowhere" is not a host:port address`,
		`mtls.listen: needs tls.cert_file and tls.key_file`,
		`ward.yaml:6: mtls.endpoint_base_url: "http://mtls.example/" must use https`,
		`ward.yaml:7: mtls.forwarded_cert_header: "X Client" is not an HTTP header name`,
		`mtls.forwarded_cert_header: needs behind_tls_proxy.trusted_proxies`,
		`ward.yaml:8: mtls.reload_interval: must be at least 1s`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}

	c = Default()
	c.Issuer = "https://auth.example.com"
	c.BehindTLSProxy.TrustedProxies = nil
	c.MTLS.EndpointBaseURL = "https://mtls.example"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "mtls.endpoint_base_url: needs mtls.client_ca_files") {
		t.Errorf("aliases without CAs: %v", err)
	}
	if d := Default(); d.MTLS.Enabled() || d.MTLS.Interval() != DefaultASMTLSReloadInterval {
		t.Errorf("defaults: %+v", d.MTLS)
	}
}

func TestMTLSClients(t *testing.T) {
	for _, tc := range []struct {
		name string
		cl   Client
		want string
	}{
		{"san uri", Client{ID: "a", AuthMethod: "tls_client_auth", JWKS: `{"keys":[],"tls_client_auth_san_uri":"spiffe://dev/x"}`, GrantTypes: []oauth.GrantType{"client_credentials"}}, ""},
		{"self-signed", Client{ID: "a", AuthMethod: "self_signed_tls_client_auth", JWKS: `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`, GrantTypes: []oauth.GrantType{"client_credentials"}}, ""},
		{"no registration", Client{ID: "a", AuthMethod: "tls_client_auth", GrantTypes: []oauth.GrantType{"client_credentials"}}, "clients[0].jwks: tls_client_auth needs exactly one of jwks and jwks_file"},
		{"two values", Client{ID: "a", AuthMethod: "tls_client_auth", JWKS: `{"tls_client_auth_san_uri":"spiffe://dev/x","tls_client_auth_san_dns":"x"}`, GrantTypes: []oauth.GrantType{"client_credentials"}}, "exactly one of tls_client_auth_subject_dn"},
		{"secret", Client{ID: "a", AuthMethod: "tls_client_auth", SecretEnv: "S", JWKS: `{"tls_client_auth_san_dns":"x"}`, GrantTypes: []oauth.GrantType{"client_credentials"}}, "tls_client_auth clients have no secret"},
		{"self-signed without keys", Client{ID: "a", AuthMethod: "self_signed_tls_client_auth", JWKS: `{"keys":[]}`, GrantTypes: []oauth.GrantType{"client_credentials"}}, "at least one key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateClient(tc.cl, true)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestMTLSTutorial: the configuration of docs/MTLS.md "Try it locally".
func TestMTLSTutorial(t *testing.T) {
	doc := `issuer: https://127.0.0.1:9000
tls: {cert_file: pki/server/server.pem, key_file: pki/server/server-key.pem}
keys: {kek_file: kek}
mtls:
  client_ca_files: [pki/ca/ca.pem]
clients:
  - id: orders
    auth_method: tls_client_auth
    jwks: {keys: [], tls_client_auth_san_uri: "spiffe://dev/ns/shop/sa/orders"}
    sender_constraint: mtls
    grant_types: [client_credentials]
    scopes: [orders.read]
    audiences: [https://api.example]
`
	c := Default()
	if err := c.Decode("ward.yaml", []byte(doc)); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.Clients[0].JWKS, `"tls_client_auth_san_uri":"spiffe://dev/ns/shop/sa/orders"`) {
		t.Fatalf("jwks %s", c.Clients[0].JWKS)
	}
}
