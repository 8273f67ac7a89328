// Package interop runs Ward against implementations it was not written
// with, each driven by a pinned npm package (interop/package.json, installed
// by `npm ci --prefix interop`; the tests skip when node or a package is
// missing):
//
//   - openid-client as the client of Ward's authorization server and
//     gateway: discovery, authorization code with PKCE and DPoP (the Go test
//     is the user's browser on the real login and consent pages), the iss
//     check, refresh with rotation and reuse detection, and a protected
//     resource call through the gateway with its own nonce retry;
//   - oauth4webapi's validateJwtAccessToken (RFC 9068 and RFC 9449) as a
//     resource server for requests that Ward's Go SDK makes with Ward's
//     tokens, refusing replayed and tampered ones;
//   - node-oidc-provider as the authorization server for Ward's Go SDK.
//
// The package has no non-test code; see docs/INTEROP.md.
package interop
