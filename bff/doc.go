// Package bff is Ward's backend-for-frontend (RFC 10017, OAuth 2.0 for
// Browser-Based Applications): the strongest pattern for browser apps, in which a
// trusted server component holds the tokens and the browser only ever has
// an HttpOnly session cookie, so no script, injected or not, can read a
// token.
//
// A Site is an http.Handler for the endpoints under its prefix (default
// /bff), served by the gateway (gateway.Mount) in front of the app:
//
//   - GET  /bff/login[?return_to=/path]: starts the authorization code
//     flow with PKCE S256, PAR (RFC 9126) and dpop_jkt (RFC 9449 §10) for
//     a P-256 key made for this login and kept server side; the browser
//     gets a 10-minute HttpOnly login cookie naming the flow.
//   - GET  /bff/callback: takes the flow from the store (single use),
//     checks iss (RFC 9207) and state before the code goes anywhere,
//     redeems it, and makes a session under a new random id.
//   - POST /bff/logout: ends the session and revokes its grant (RFC 7009).
//   - GET  /bff/user: who is logged in — subject, scope, when the session
//     ends — never a token.
//   - ANY  /bff/api/...: forwarded to the configured API with the access
//     token and a fresh DPoP proof for exactly that method and URL,
//     renewed with the (rotating) refresh token shortly before expiry.
//
// Every endpoint but login and callback requires the custom header
// X-Ward-CSRF: 1 together with same-origin Fetch Metadata and Origin when
// the browser sends them (and one of them on state-changing calls).
// Sessions end after their lifetime, after their idle timeout, and when
// their grant is revoked anywhere (checked at the authorization server's
// introspection endpoint at most every grant_check_interval, and on every
// refused refresh).
//
// State lives in a Store — MemoryStore (default, one instance) or
// RedisStore (several instances) — under the SHA-256 of the cookie's
// random id, sealed with AES-256-GCM bound to that key, so the store's
// content alone yields neither a cookie nor a token.
package bff
