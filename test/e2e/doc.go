// Package e2e holds Ward's end-to-end tests: the authorization server
// (package authz) and the gateway (package gateway) run in-process on
// loopback sockets, over a SQLite store, and a real HTTP client with a
// DPoP key obtains a token and calls an upstream through the gateway. Each
// attack of the list (a stolen token, replayed or malleated proofs,
// proofs for another method, URL or token, stale or future iat, alg none,
// HMAC, a private key in jwk, a DPoP token sent as Bearer, another
// audience, a missing scope, an expired token, an unknown kid, forged
// identity headers) is refused with the expected status, error code and
// stable reason, read back from the gateway's Prometheus metrics, and
// never reaches the upstream.
//
// TestBinary builds cmd/ward and drives `ward serve --dev` as a
// subprocess on free ports; it is skipped with -short.
//
// The package has no non-test code; see docs/TESTING.md.
package e2e
