// Package gateway is Ward's zero-trust reverse proxy: it puts the checks
// of package resource (RFC 9068 token, DPoP proof, audience, scopes) and
// the per-route rules of package policy in front of any HTTP API.
//
// For each request the gateway cleans the path (policy.CleanPath refuses
// ambiguous ones), picks the route by host and longest path prefix,
// authenticates the caller unless the route is declared unauthenticated,
// evaluates the route's policy (deny wins, default deny), removes from
// the request every identity header a client might have forged, and
// forwards it with the verified identity in headers (X-Ward-Subject,
// X-Ward-Client, X-Ward-Scopes, X-Ward-JKT by default). Authorization and
// DPoP are forwarded only when the route says so.
//
// Every response carries security headers (HSTS, nosniff, Referrer-Policy,
// CSP on HTML, Cache-Control: no-store on authenticated routes).
// Routes and policies are reloaded atomically with Reload; an invalid
// configuration is refused and the running one kept. Metrics (Prometheus),
// health and readiness are served by AdminHandler, meant for a separate
// listener. Logs (log/slog) carry the rejection reason and the key
// thumbprint, never a token.
//
// The checks are one decision that knows nothing of the transport:
// Decide takes a request as the client sent it and returns a Decision
// (allowed with the identity headers, or refused with the challenge). The
// reverse proxy renders it; the forward-auth endpoint (gateway.authorizer,
// AuthorizerHandler) serves it to nginx auth_request, Caddy forward_auth,
// Traefik ForwardAuth and Envoy's HTTP ext_authz (docs/INTEGRATIONS.md).
package gateway
