// Package client is Ward's Go SDK for OAuth 2.1 clients that use only
// sender-constrained tokens (DPoP, RFC 9449). It takes the work DPoP adds
// off the application: keys, a fresh proof per request, server nonces and
// clock skew.
//
//   - Transport is an http.RoundTripper that adds a proof to every request
//     (with ath when it carries "Authorization: DPoP"), remembers each
//     origin's DPoP-Nonce, retries once on use_dpop_nonce (400 from a token
//     endpoint, 401 challenge from a resource server; bodies are replayed
//     through Request.GetBody) and corrects iat by the server's Date header
//     within WithMaxClockSkew.
//   - Client obtains DPoP-bound tokens from one authorization server: client
//     credentials, authorization code with PKCE S256, PAR (RFC 9126) and
//     dpop_jkt, and for command-line and desktop apps AuthorizeLoopback
//     (RFC 8252: redirect to 127.0.0.1 on an ephemeral port, state and iss
//     (RFC 9207) checked before the code is redeemed).
//   - TokenSource is a golang.org/x/oauth2 TokenSource that renews its token
//     before expiry, stores the rotated refresh token with the new access
//     token in one step, and lets one renewal be in flight however many
//     goroutines ask.
//   - OpenID Connect (Core 1.0): with the scope openid, AuthCodeRequest
//     sends a fresh nonce (and max_age, prompt when WithMaxAge, WithPrompt
//     are given), and ExchangeRedirect refuses the token response unless
//     its ID token passes IDTokenVerifier.Verify (§3.1.3.7: signature from
//     the issuer's JWKS with ES256 or RS256, iss, aud, azp, exp, iat,
//     nonce, at_hash, auth_time against max_age, typ not at+jwt);
//     IDTokenOf returns its claims. UserInfo calls the UserInfo endpoint
//     with the DPoP-bound token and checks its sub (§5.3.2); EndSessionURL
//     builds the RP-Initiated Logout redirect.
//   - Keys are P-256 keys made in memory unless WithKey gives any
//     crypto.Signer; LoadOrCreateKey keeps one in a 0600 file and refuses a
//     file others can read.
//   - Errors: *RetrieveError (token and PAR endpoints, fields named after RFC
//     6749 §5.2), *AuthorizationError (the redirect's error), and sentinels
//     for errors.Is.
//
// Unlike golang.org/x/oauth2, no object keeps a context and the HTTP client
// is an option (WithHTTPClient), never a context value: every call that
// talks to the network takes its own context.
package client
