// Package resource is net/http middleware for Go resource servers: it
// accepts only sender-constrained OAuth 2.1 access tokens.
//
// For every request it
//
//   - reads exactly one access token from the Authorization header
//     (schemes DPoP, and Bearer only on routes that allow it; never from
//     the query or the body);
//   - validates it: an RFC 9068 JWT (typ at+jwt, an explicit algorithm
//     allow-list, a key from the issuer's JWKS found through RFC 8414
//     discovery, never from jku, x5u, x5c or an embedded jwk, no crit
//     header, iss, aud, exp, nbf and iat with a small leeway), or an opaque
//     token through RFC 7662 introspection with a short cache;
//   - enforces the sender constraint: a token with cnf.jkt is accepted only
//     with the DPoP scheme and a valid proof for this request (RFC 9449
//     §4.3, §7.1); a DPoP-bound token sent as Bearer is refused; an
//     unbound token is refused unless the route allows bearer tokens; a
//     certificate-bound token (cnf.x5t#S256, RFC 8705 §3) is accepted only
//     from a request presenting that certificate (Config.ClientCertificate,
//     by default the TLS handshake's), compared in constant time; a token
//     bound both ways must satisfy both;
//   - checks the audience and scopes the route requires;
//   - puts the verified Identity in the request context (IdentityFrom),
//     with the client certificate's thumbprint and SPIFFE ID when present.
//
// Errors are *oauth.Error values rendered by oauth.WriteChallenge
// (RFC 6750 §3, RFC 9449 §7.1, RFC 9728 §5.1). Each carries a stable
// Reason (for example "expired", "unknown_kid", "replayed") for metrics
// and logs; descriptions never contain a token.
//
// Several issuers can be trusted at once (Config.Issuers, type Issuer):
// a JWT's iss selects its issuer before any key is fetched, so a token of
// an issuer that is not configured, or that the route does not accept
// (Requirement.Issuers), costs no network call. Each issuer has its key
// source (RFC 8414 or OpenID Connect discovery, or a fixed JWKS URI), its
// algorithms, its token profile (ProfileRFC9068, or ProfileLegacyJWT for
// providers whose access tokens are typ JWT, with ID tokens still
// refused), its claim mapping and its optional introspection. An opaque
// token goes to the one introspecting issuer the route accepts.
//
// RemoteIntrospector.SignedResponse asks for the JWT introspection
// response of RFC 9701 and accepts only one that IntrospectionJWTVerifier
// verifies: the issuer's key and an allowed algorithm, typ
// token-introspection+jwt, iss, aud the resource server, a fresh iat.
//
// A validated JWT is cached, keyed by the SHA-256 of the token, until it
// expires, so its signature is checked once; the DPoP proof is checked on
// every request.
package resource
