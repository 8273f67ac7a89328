package oauth

// GrantType is an OAuth grant type, the grant_type parameter of a token
// request (RFC 6749 §4) and a client's registered grant_types (RFC 7591
// §2).
type GrantType string

// Grant types Ward implements.
const (
	GrantAuthorizationCode GrantType = "authorization_code" // RFC 6749 §4.1.3
	GrantRefreshToken      GrantType = "refresh_token"      // RFC 6749 §6
	GrantClientCredentials GrantType = "client_credentials" // RFC 6749 §4.4.2
	// GrantDeviceCode is the device authorization grant (RFC 8628 §3.4).
	GrantDeviceCode GrantType = "urn:ietf:params:oauth:grant-type:device_code"
	// GrantTokenExchange exchanges an access token for one aimed at
	// another audience (RFC 8693 §2.1).
	GrantTokenExchange GrantType = "urn:ietf:params:oauth:grant-type:token-exchange"
)

// TokenTypeAccessToken is the token type identifier of an OAuth access
// token (RFC 8693 §3): the subject_token_type, actor_token_type and
// issued_token_type of Ward's token exchange.
const TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"

// AuthMethod is a token endpoint authentication method, a client's
// token_endpoint_auth_method (RFC 7591 §2).
type AuthMethod string

// Token endpoint authentication methods Ward implements.
const (
	AuthSecretBasic         AuthMethod = "client_secret_basic"         // RFC 6749 §2.3.1
	AuthSecretPost          AuthMethod = "client_secret_post"          // RFC 6749 §2.3.1
	AuthPrivateKeyJWT       AuthMethod = "private_key_jwt"             // RFC 7523 §2.2
	AuthNone                AuthMethod = "none"                        // public client, RFC 7591 §2
	AuthTLSClient           AuthMethod = "tls_client_auth"             // RFC 8705 §2.1
	AuthSelfSignedTLSClient AuthMethod = "self_signed_tls_client_auth" // RFC 8705 §2.2
)

// ClientAssertionJWTBearer is the client_assertion_type of a JWT client
// assertion (RFC 7523 §2.2).
const ClientAssertionJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Access token types (token_type, RFC 6749 §7.1), which are also the
// Authorization header schemes that present them. Plain strings: the
// structs that carry them (oauth2.Token, the introspection response) do.
const (
	TokenTypeBearer = "Bearer" // RFC 6750
	TokenTypeDPoP   = "DPoP"   // RFC 9449 §5
)

// Token type hints of revocation and introspection requests (RFC 7009
// §2.1, RFC 7662 §2.1), also the token_type Ward's introspection answers
// for a refresh token.
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// OpenID Connect scopes (OIDC Core §3.1.2.1, §5.4).
const (
	ScopeOpenID  = "openid"
	ScopeProfile = "profile"
	ScopeEmail   = "email"
	ScopePhone   = "phone"
	ScopeAddress = "address"
)

// Values of the prompt authentication request parameter (OIDC Core
// §3.1.2.1).
const (
	PromptNone          = "none"
	PromptLogin         = "login"
	PromptConsent       = "consent"
	PromptSelectAccount = "select_account"
)
