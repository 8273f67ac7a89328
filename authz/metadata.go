package authz

import (
	"encoding/json"
	"github.com/wardauth/ward/oauth"
	"net/http"
)

// Metadata is the authorization server metadata document (RFC 8414 §2),
// advertising exactly what this server supports.
type Metadata struct {
	Issuer                                     string             `json:"issuer"`
	AuthorizationEndpoint                      string             `json:"authorization_endpoint"`
	TokenEndpoint                              string             `json:"token_endpoint"`
	JWKSURI                                    string             `json:"jwks_uri"`
	PushedAuthorizationRequestEndpoint         string             `json:"pushed_authorization_request_endpoint"`
	RequirePushedAuthorizationRequests         bool               `json:"require_pushed_authorization_requests"`
	RevocationEndpoint                         string             `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string             `json:"introspection_endpoint"`
	ResponseTypesSupported                     []string           `json:"response_types_supported"`
	ResponseModesSupported                     []string           `json:"response_modes_supported"`
	GrantTypesSupported                        []oauth.GrantType  `json:"grant_types_supported"`
	CodeChallengeMethodsSupported              []string           `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported          []oauth.AuthMethod `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string           `json:"token_endpoint_auth_signing_alg_values_supported"`
	RevocationEndpointAuthMethodsSupported     []oauth.AuthMethod `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []oauth.AuthMethod `json:"introspection_endpoint_auth_methods_supported"`
	DPoPSigningAlgValuesSupported              []string           `json:"dpop_signing_alg_values_supported"`
	AuthorizationResponseISSParameterSupported bool               `json:"authorization_response_iss_parameter_supported"`
	PromptValuesSupported                      []string           `json:"prompt_values_supported"`
	// RFC 8705 §3.3, §5: only when mTLS is on (mtls.go).
	TLSClientCertificateBoundAccessTokens bool                 `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	MTLSEndpointAliases                   *MTLSEndpointAliases `json:"mtls_endpoint_aliases,omitempty"`
}

// MTLSEndpointAliases are the endpoints served on the mTLS listener
// (RFC 8705 §5), published when config mtls.endpoint_base_url is set.
type MTLSEndpointAliases struct {
	TokenEndpoint                      string `json:"token_endpoint"`
	PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint"`
	RevocationEndpoint                 string `json:"revocation_endpoint"`
	IntrospectionEndpoint              string `json:"introspection_endpoint"`
	// UserinfoEndpoint: certificate-bound tokens at UserInfo (RFC 8705
	// §5, docs/OIDC.md).
	UserinfoEndpoint string `json:"userinfo_endpoint,omitempty"`
}

// Metadata returns the document served at
// /.well-known/oauth-authorization-server.
func (s *Server) Metadata() Metadata {
	algs := make([]string, len(s.assertionAlgs))
	for i, a := range s.assertionAlgs {
		algs[i] = string(a)
	}
	authed := []oauth.AuthMethod{oauth.AuthSecretBasic, oauth.AuthSecretPost, oauth.AuthPrivateKeyJWT}
	mtlsOn := s.mtlsEnabled()
	if mtlsOn {
		authed = append(authed, oauth.AuthTLSClient, oauth.AuthSelfSignedTLSClient)
	}
	md := Metadata{
		Issuer:                                     s.issuer,
		AuthorizationEndpoint:                      s.url(PathAuthorize),
		TokenEndpoint:                              s.url(PathToken),
		JWKSURI:                                    s.url(PathJWKS),
		PushedAuthorizationRequestEndpoint:         s.url(PathPAR),
		RequirePushedAuthorizationRequests:         s.cfg.PAR.Required,
		RevocationEndpoint:                         s.url(PathRevoke),
		IntrospectionEndpoint:                      s.url(PathIntrospect),
		ResponseTypesSupported:                     []string{"code"},
		ResponseModesSupported:                     []string{"query"},
		GrantTypesSupported:                        []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials},
		CodeChallengeMethodsSupported:              []string{"S256"},
		TokenEndpointAuthMethodsSupported:          append(authed, oauth.AuthNone),
		TokenEndpointAuthSigningAlgValuesSupported: algs,
		RevocationEndpointAuthMethodsSupported:     append(authed[:len(authed):len(authed)], oauth.AuthNone),
		IntrospectionEndpointAuthMethodsSupported:  authed,
		DPoPSigningAlgValuesSupported:              s.dpopAlgs,
		AuthorizationResponseISSParameterSupported: true,
		PromptValuesSupported:                      []string{"none", "login", "consent"},
	}
	if mtlsOn {
		md.TLSClientCertificateBoundAccessTokens = true
		md.MTLSEndpointAliases = s.mtlsAliases()
	}
	return md
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(s.Metadata())
}
