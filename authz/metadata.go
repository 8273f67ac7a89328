package authz

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// Metadata is the authorization server metadata document (RFC 8414 §2)
// and the OpenID Provider metadata (OpenID Connect Discovery 1.0 §3), one
// document served at both well-known paths: RFC 8414 §2 registers the
// Discovery members for OAuth metadata too, so the two never differ. It
// advertises exactly what this server supports.
type Metadata struct {
	Issuer                             string `json:"issuer"`
	AuthorizationEndpoint              string `json:"authorization_endpoint"`
	TokenEndpoint                      string `json:"token_endpoint"`
	JWKSURI                            string `json:"jwks_uri"`
	PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint"`
	// DeviceAuthorizationEndpoint: RFC 8628 §4, when
	// device_authorization.enabled.
	DeviceAuthorizationEndpoint        string   `json:"device_authorization_endpoint,omitempty"`
	RequirePushedAuthorizationRequests bool     `json:"require_pushed_authorization_requests"`
	RevocationEndpoint                 string   `json:"revocation_endpoint"`
	IntrospectionEndpoint              string   `json:"introspection_endpoint"`
	ResponseTypesSupported             []string `json:"response_types_supported"`
	ResponseModesSupported             []string `json:"response_modes_supported"`
	// JARM §4 and RFC 9701 §7: the algorithms a client may register for
	// its signed authorization and introspection responses.
	AuthorizationSigningAlgValuesSupported     []string           `json:"authorization_signing_alg_values_supported"`
	IntrospectionSigningAlgValuesSupported     []string           `json:"introspection_signing_alg_values_supported"`
	GrantTypesSupported                        []oauth.GrantType  `json:"grant_types_supported"`
	CodeChallengeMethodsSupported              []string           `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported          []oauth.AuthMethod `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string           `json:"token_endpoint_auth_signing_alg_values_supported"`
	RevocationEndpointAuthMethodsSupported     []oauth.AuthMethod `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []oauth.AuthMethod `json:"introspection_endpoint_auth_methods_supported"`
	DPoPSigningAlgValuesSupported              []string           `json:"dpop_signing_alg_values_supported"`
	AuthorizationResponseISSParameterSupported bool               `json:"authorization_response_iss_parameter_supported"`
	PromptValuesSupported                      []string           `json:"prompt_values_supported"`
	// RegistrationEndpoint (RFC 8414 §2, RFC 7591 §3): only when
	// registration.enabled (register.go).
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`
	// RFC 8705 §3.3, §5: only when mTLS is on (mtls.go).
	TLSClientCertificateBoundAccessTokens bool                 `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	MTLSEndpointAliases                   *MTLSEndpointAliases `json:"mtls_endpoint_aliases,omitempty"`

	// OpenID Connect Discovery 1.0 §3; Back-Channel Logout 1.0 §2.1,
	// RP-Initiated Logout 1.0 §2.1, Front-Channel Logout 1.0 §3.
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	ClaimTypesSupported               []string `json:"claim_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	UserinfoSigningAlgValuesSupported []string `json:"userinfo_signing_alg_values_supported"`
	ACRValuesSupported                []string `json:"acr_values_supported"`
	UILocalesSupported                []string `json:"ui_locales_supported"`
	ClaimsParameterSupported          bool     `json:"claims_parameter_supported"`
	// Signed request objects by value (RFC 9101; requestobject.go) at
	// the authorization and PAR endpoints; by reference, only PAR's
	// request_uri, so request_uri_parameter_supported is false, and
	// present, since Discovery's default for it is true.
	RequestParameterSupported              bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported           bool     `json:"request_uri_parameter_supported"`
	RequestObjectSigningAlgValuesSupported []string `json:"request_object_signing_alg_values_supported"`
	// RequireSignedRequestObject: request_objects.required (RFC 9101
	// §10.5); per-client requirements are not published.
	RequireSignedRequestObject         bool `json:"require_signed_request_object"`
	BackchannelLogoutSupported         bool `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported  bool `json:"backchannel_logout_session_supported"`
	FrontchannelLogoutSupported        bool `json:"frontchannel_logout_supported"`
	FrontchannelLogoutSessionSupported bool `json:"frontchannel_logout_session_supported"`
}

// oidcScopes are the OpenID Connect scopes Ward answers (OIDC Core §5.4).
var oidcScopes = []string{oauth.ScopeOpenID, oauth.ScopeProfile, oauth.ScopeEmail, oauth.ScopePhone, oauth.ScopeAddress}

// idTokenClaims are the claims Ward puts in ID tokens itself (OIDC Core
// §2); standardClaims those of a user (§5.1), from store.UserClaims.
var (
	idTokenClaims  = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "at_hash"}
	standardClaims = []string{"name", "given_name", "family_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "email", "email_verified", "gender", "birthdate", "zoneinfo", "locale",
		"phone_number", "phone_number_verified", "address", "updated_at"}
)

// uiLocales are the languages of Ward's pages: those of the catalogue,
// sorted.
func uiLocales() []string {
	var out []string
	for l := range catalogue {
		out = append(out, string(l))
	}
	slices.Sort(out)
	return out
}

// scopesSupported are the OpenID Connect scopes and every scope a static
// client may request, sorted.
func (s *Server) scopesSupported() []string {
	set := map[string]bool{}
	for _, c := range s.cfg.Clients {
		for _, sc := range c.Scopes {
			set[sc] = true
		}
	}
	if s.cfg.Registration.Enabled {
		for _, sc := range s.cfg.Registration.Scopes {
			set[sc] = true
		}
	}
	out := slices.Clone(oidcScopes)
	for _, sc := range slices.Sorted(maps.Keys(set)) {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// oidcMetadata fills the OpenID Connect members of md.
func (s *Server) oidcMetadata(md *Metadata) {
	md.UserinfoEndpoint = s.url(PathUserInfo)
	md.EndSessionEndpoint = s.url(PathEndSession)
	md.ScopesSupported = s.scopesSupported()
	md.ClaimsSupported = append(slices.Clone(idTokenClaims), standardClaims...)
	md.ClaimTypesSupported = []string{"normal"}
	md.SubjectTypesSupported = []string{store.SubjectPublic, store.SubjectPairwise}
	md.IDTokenSigningAlgValuesSupported = s.signedResponseAlgs()
	md.UserinfoSigningAlgValuesSupported = s.signedResponseAlgs()
	md.ACRValuesSupported = []string{ACRPassword}
	md.UILocalesSupported = uiLocales()
	md.ClaimsParameterSupported = true
	md.RequestParameterSupported = true
	md.RequestObjectSigningAlgValuesSupported = algNamesList(s.requestObjectAlgs)
	md.RequireSignedRequestObject = s.cfg.RequestObjects.Required
	md.BackchannelLogoutSupported = true
	md.BackchannelLogoutSessionSupported = true
}

// signedResponseAlgs are the algorithms of signed responses (UserInfo,
// JARM, JWT introspection): the primary key's and the RS256 chain of
// keyForAlg.
func (s *Server) signedResponseAlgs() []string {
	return []string{string(s.km.Options().Algorithm), store.AlgRS256}
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
	// DeviceAuthorizationEndpoint: when device_authorization.enabled
	// (RFC 8628 §4, RFC 8705 §5).
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint,omitempty"`
}

// Metadata returns the document served at
// /.well-known/oauth-authorization-server.
func (s *Server) Metadata() Metadata {
	algs := algNamesList(s.assertionAlgs)
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
		ResponseModesSupported:                     slices.Clone(responseModesSupported),
		GrantTypesSupported:                        []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials, oauth.GrantTokenExchange},
		CodeChallengeMethodsSupported:              []string{"S256"},
		TokenEndpointAuthMethodsSupported:          append(authed, oauth.AuthNone),
		TokenEndpointAuthSigningAlgValuesSupported: algs,
		RevocationEndpointAuthMethodsSupported:     append(authed[:len(authed):len(authed)], oauth.AuthNone),
		IntrospectionEndpointAuthMethodsSupported:  authed,
		DPoPSigningAlgValuesSupported:              s.dpopAlgs,
		AuthorizationResponseISSParameterSupported: true,
		PromptValuesSupported:                      []string{oauth.PromptNone, oauth.PromptLogin, oauth.PromptConsent, oauth.PromptSelectAccount},
	}
	s.oidcMetadata(&md)
	if s.cfg.Registration.Enabled {
		md.RegistrationEndpoint = s.url(PathRegister)
	}
	if s.device.Enabled {
		md.DeviceAuthorizationEndpoint = s.url(PathDeviceAuthorization)
		md.GrantTypesSupported = append(md.GrantTypesSupported, oauth.GrantDeviceCode)
	}
	md.AuthorizationSigningAlgValuesSupported = s.signedResponseAlgs()
	md.IntrospectionSigningAlgValuesSupported = s.signedResponseAlgs()
	s.fapiMetadata(&md) // fapi.go
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

func algNamesList(algs []jose.SignatureAlgorithm) []string {
	out := make([]string, len(algs))
	for i, a := range algs {
		out[i] = string(a)
	}
	return out
}
