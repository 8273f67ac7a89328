// Package pkce implements Proof Key for Code Exchange (RFC 7636) with the
// S256 method only.
//
// OAuth 2.1 (draft-ietf-oauth-v2-1 §4.1.1) and RFC 9700 §2.1.1 require PKCE
// for every authorization code flow; the "plain" method is refused here
// because it offers no protection once the authorization request leaks.
//
// A client makes a verifier with [NewVerifier] and sends [Challenge] of it in
// the authorization request. The server checks the request's parameters with
// [ValidateChallenge], stores the challenge with the code, and at the token
// endpoint checks the presented code_verifier with [Verify].
//
// Every error returned wraps one of the package's sentinel errors, so callers
// can map them to protocol errors with errors.Is.
package pkce
