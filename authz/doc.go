// Package authz is Ward's OAuth 2.1 authorization server: the HTTP handlers
// of /authorize, /par, /token, /revoke, /introspect, /jwks, the RFC 8414
// metadata document, and the login and consent pages.
//
// Every token it issues is sender-constrained unless a client was registered
// with the explicit "bearer" opt-out: access tokens are RFC 9068 JWTs
// carrying cnf.jkt (RFC 9449), refresh tokens of public clients are bound to
// the same DPoP key, authorization codes are bound to the client, the
// redirect URI, the PKCE S256 challenge and the dpop_jkt parameter.
//
// Build a Server with New from a validated *config.Config and Options (the
// store, the signing-key manager, a logger and a clock), mount
// Server.Handler, and run Server.Run in the background for the expired-row
// sweeper and key rotation. SyncStatic declares the configuration's static
// clients and users in the store; CreateClient registers a client with a
// generated secret.
//
// There is one file per endpoint or grant: a reader finds the refresh grant
// in grant_refresh.go, and what a token or PAR request is bound to (a DPoP
// key or the client certificate) in sender.go. A store outage
// (store.ErrUnavailable) is answered 503 with Retry-After
// (unavailable.go). Protocol errors are *oauth.Error values, rendered in
// one place (writeError for JSON endpoints, through writeEndpointError in
// metrics.go where the refusal is counted; authorizeError for redirects to
// the client, errorPage when the client cannot be trusted with a redirect).
// docs/AUTHZ.md maps each rule of the specifications to the code and the
// test that enforce it.
package authz
