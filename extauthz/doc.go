// Package extauthz serves the gateway's decision to Envoy, and so to
// Istio, over Envoy's external authorization API:
// envoy.service.auth.v3.Authorization/Check over gRPC.
//
// Envoy's HTTP ext_authz filter describes each request it receives in a
// CheckRequest; [Request] rebuilds the request as the client sent it
// (method, scheme, host, path with query, headers, source address and,
// with include_peer_certificate, the client certificate), a [Decider]
// (the gateway) decides, and the answer goes back as a CheckResponse:
// OK with the identity headers to set upstream and the client's copies
// to remove, or a denial with the status, the challenge headers
// (WWW-Authenticate, DPoP-Nonce, Retry-After) and the body the client
// gets. The decision knows nothing of the transport that asked: the same
// checks run for the gateway's own listener.
//
// Envoy's report of the client's address and certificate is believed, so
// the listener serves only trusted callers (gateway.ext_authz in
// docs/CONFIG.md). The Envoy and Istio configurations are in
// docs/INTEGRATIONS.md.
package extauthz
