package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/fapi"
)

// fapiBase is a valid fapi2-security file: a private_key_jwt client and a
// tls_client_auth one.
const fapiBase = base + `authorization_server: {profile: fapi2-security}
mtls: {client_ca_files: [ca.pem]}
clients:
  - id: bank
    auth_method: private_key_jwt
    jwks: {keys: [{kty: EC, crv: P-256, kid: k1, x: f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU, y: x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0}]}
    redirect_uris: [https://tpp.example/cb]
  - id: tpp
    auth_method: tls_client_auth
    jwks: {tls_client_auth_subject_dn: "CN=tpp"}
    sender_constraint: dpop_or_mtls
    redirect_uris: [https://tpp.example/cb]
`

func TestFAPIProfileValid(t *testing.T) {
	if _, err := load("ward.yaml", fapiBase, noEnv); err != nil {
		t.Fatalf("a compliant fapi2-security file is refused: %v", err)
	}
}

// TestFAPIProfileRefusals: every configuration the profile contradicts is
// refused at start, naming the key, its line and the profile's clause.
func TestFAPIProfileRefusals(t *testing.T) {
	public := "  - {id: spa, auth_method: none, redirect_uris: [\"http://127.0.0.1/cb\"]}\n"
	secret := "  - {id: web, auth_method: client_secret_basic, secret_hash: '0000000000000000000000000000000000000000000000000000000000000000', redirect_uris: [\"https://a.example/cb\"]}\n"
	tests := []struct{ name, yaml, want string }{
		{"public client", fapiBase + public,
			"ward.yaml:16: clients[2].auth_method: none is not allowed under fapi2-security: FAPI 2.0 Security Profile §5.3.2.1"},
		{"client secret", fapiBase + secret,
			"ward.yaml:16: clients[2].auth_method: client_secret_basic is not allowed under fapi2-security: FAPI 2.0 Security Profile §5.3.2.1"},
		{"bearer tokens", strings.Replace(fapiBase, "sender_constraint: dpop_or_mtls", "sender_constraint: bearer", 1),
			"ward.yaml:14: clients[1].sender_constraint: bearer is not allowed under fapi2-security: FAPI 2.0 Security Profile §5.3.2.1 (sender-constrained"},
		{"RS256 ID tokens", strings.Replace(fapiBase, "sender_constraint: dpop_or_mtls", "id_token_signed_response_alg: RS256", 1),
			"ward.yaml:14: clients[1].id_token_signed_response_alg: RS256 is not allowed under fapi2-security: FAPI 2.0 Security Profile §5.4.1"},
		{"RS256 DPoP", fapiBase + "dpop: {algorithms: [ES256, RS256]}\n",
			"ward.yaml:16: dpop.algorithms[1]: \"RS256\" is not allowed under authorization_server.profile: FAPI 2.0 Security Profile §5.4.1"},
		{"clock skew", fapiBase + "dpop: {iat_leeway: 2s}\n",
			"ward.yaml:16: dpop.iat_leeway: 2s is below 10s under authorization_server.profile: FAPI 2.0 Security Profile §5.3.2.1"},
		{"PAR lifetime", fapiBase + "par: {ttl: 10m}\n",
			"ward.yaml:16: par.ttl: 10m0s is not below 10m0s under authorization_server.profile: FAPI 2.0 Security Profile §5.3.2.2"},
		{"message signing not built", strings.Replace(fapiBase, "profile: fapi2-security", "profile: fapi2-message-signing", 1),
			"ward.yaml:4: authorization_server.profile: fapi2-message-signing is not supported yet: this build lacks signed request objects (RFC 9101 JAR) (Message Signing §5.3.2)"},
		{"client loosens", strings.Replace(fapiBase, "    redirect_uris: [https://tpp.example/cb]\n  - id: tpp", "    redirect_uris: [https://tpp.example/cb]\n    profile: fapi2-security\n  - id: tpp", 1),
			""},
		{"unknown profile", strings.Replace(fapiBase, "profile: fapi2-security", "profile: fapi2", 1),
			"ward.yaml:4: authorization_server.profile: \"fapi2\" is not one of fapi2-security, fapi2-message-signing"},
		{"per-client public", base + "clients:\n  - {id: spa, profile: fapi2-security, auth_method: none, redirect_uris: [\"http://127.0.0.1/cb\"]}\n",
			"ward.yaml:5: clients[0].auth_method: none is not allowed under fapi2-security"},
		{"http issuer in dev", "issuer: http://as.example\nkeys: {kek_file: /k}\nauthorization_server: {profile: fapi2-security}\n",
			"ward.yaml:1: issuer: \"http://as.example\" must be https under authorization_server.profile: FAPI 2.0 Security Profile §5.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load("ward.yaml", tt.yaml, noEnv)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, tt.want)
			}
			if !errors.Is(err, config.ErrInvalidValue) {
				t.Fatalf("%v does not wrap ErrInvalidValue", err)
			}
		})
	}
}

// TestFAPIClientCannotLoosen: a client's profile weaker than the server's
// is refused (it would otherwise read as an opt-out).
func TestFAPIClientCannotLoosen(t *testing.T) {
	fapi.Supported[fapi.SignedRequestObjects], fapi.Supported[fapi.JARM], fapi.Supported[fapi.JWTIntrospection] = true, true, true
	defer clear(fapi.Supported)
	y := strings.Replace(fapiBase, "profile: fapi2-security", "profile: fapi2-message-signing", 1)
	y = strings.Replace(y, "  - id: tpp", "  - id: tpp\n    profile: fapi2-security", 1)
	_, err := load("ward.yaml", y, noEnv)
	want := "ward.yaml:12: clients[1].profile: fapi2-security is weaker than authorization_server.profile fapi2-message-signing"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v\nwant %q", err, want)
	}
}

// TestFAPIValidateClientUnder: `ward client create` on a server under the
// profile refuses a client the profile does not admit.
func TestFAPIValidateClientUnder(t *testing.T) {
	pub := config.Client{ID: "spa", AuthMethod: "none", RedirectURIs: []string{"http://127.0.0.1/cb"}}
	if err := config.ValidateClient(pub, true); err != nil {
		t.Fatalf("public client refused outside the profile: %v", err)
	}
	err := config.ValidateClientUnder(fapi.Security, pub, true)
	if err == nil || !strings.Contains(err.Error(), "clients[0].auth_method: none is not allowed under fapi2-security: FAPI 2.0 Security Profile §5.3.2.1") {
		t.Fatalf("public client under the profile: %v", err)
	}
}
