package resource

import "github.com/wardauth/ward/dpop"

// Reason is a stable, machine-readable cause of a refused request, meant
// for metrics labels and logs; it is never sent to the client. DPoP proof
// failures use the dpop package's reasons (dpop.Reason), so the full set is
// the constants below plus those. The set only grows.
type Reason = string

// Reasons for refusing a request, besides the dpop.Reason values.
const (
	ReasonNoToken            Reason = "no_token"             // no Authorization header (RFC 6750 §3.1: no error code)
	ReasonUnsupportedScheme  Reason = "unsupported_scheme"   // Authorization scheme is neither DPoP nor Bearer
	ReasonMultipleTokens     Reason = "multiple_tokens"      // several Authorization headers, or a token in the query
	ReasonTokenInQuery       Reason = "token_in_query"       // access_token query parameter (forbidden by OAuth 2.1)
	ReasonMalformedToken     Reason = "malformed_token"      // not a well-formed JWT and no introspection
	ReasonTokenTooLarge      Reason = "token_too_large"      // longer than the limit
	ReasonBadTokenType       Reason = "bad_token_typ"        // typ is not at+jwt (RFC 9068 §4)
	ReasonBadTokenAlg        Reason = "bad_token_alg"        // alg not in the allow-list (none, HS256, ...)
	ReasonForbiddenHeader    Reason = "forbidden_header"     // jku, x5u, x5c, jwk or crit in the JWS header
	ReasonUnknownKID         Reason = "unknown_kid"          // kid not in the issuer's JWKS, even after a refresh
	ReasonBadSignature       Reason = "bad_signature"        // the token's signature does not verify
	ReasonMissingClaim       Reason = "missing_claim"        // a claim RFC 9068 §2.2 requires is absent
	ReasonBadClaim           Reason = "bad_claim"            // a claim has the wrong type
	ReasonWrongIssuer        Reason = "wrong_issuer"         // iss is not the configured issuer
	ReasonWrongAudience      Reason = "wrong_audience"       // aud does not name this resource
	ReasonExpired            Reason = "expired"              // exp is past (beyond the leeway)
	ReasonNotYetValid        Reason = "not_yet_valid"        // nbf is in the future (beyond the leeway)
	ReasonIssuedInFuture     Reason = "iat_in_future"        // the token's iat is in the future
	ReasonInactive           Reason = "inactive"             // introspection says active=false
	ReasonDPoPAsBearer       Reason = "dpop_token_as_bearer" // cnf.jkt token with the Bearer scheme (RFC 9449 §7.2)
	ReasonBearerNotAllowed   Reason = "bearer_not_allowed"   // unbound token on a route that requires DPoP
	ReasonTokenNotBound      Reason = "token_not_bound"      // DPoP scheme with a token that has no cnf.jkt
	ReasonMTLSUnsupported    Reason = "mtls_unsupported"     // no longer used: certificate-bound tokens are checked (cert_*)
	ReasonCertMissing        Reason = "cert_missing"         // cnf.x5t#S256 token without a client certificate (RFC 8705 §3)
	ReasonCertMismatch       Reason = "cert_mismatch"        // cnf.x5t#S256 is not the client certificate's thumbprint
	ReasonCertInvalid        Reason = "cert_invalid"         // a forwarded client certificate is malformed or unverified
	ReasonInsufficientScope  Reason = "insufficient_scope"   // a required scope is missing
	ReasonKeysUnavailable    Reason = "keys_unavailable"     // discovery or JWKS fetch failed
	ReasonIntrospectionError Reason = "introspection_error"  // introspection endpoint failed
	ReasonIssuerNotAccepted  Reason = "issuer_not_accepted"  // iss is a configured issuer the route does not accept
	ReasonAmbiguousIssuer    Reason = "ambiguous_issuer"     // opaque token on a route accepting several introspecting issuers
	ReasonIDToken            Reason = "id_token"             // an ID token (or other non-access JWT) presented as an access token
)

// Aliases of the dpop reasons most often looked for, so that callers of
// this package need not import dpop to name them.
const (
	ReasonReplayed    Reason = string(dpop.ReasonReplayed)
	ReasonHTUMismatch Reason = string(dpop.ReasonHTUMismatch)
	ReasonHTMMismatch Reason = string(dpop.ReasonHTMMismatch)
	ReasonATHMismatch Reason = string(dpop.ReasonATHMismatch)
	ReasonKeyMismatch Reason = string(dpop.ReasonKeyMismatch)
)
