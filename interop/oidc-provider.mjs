// node-oidc-provider as the authorization server for Ward's Go SDK: a
// server the SDK was not written for. DPoP is on with server nonces
// required on every DPoP request (RFC 9449 §8), and both clients demand
// DPoP-bound access tokens (dpop_bound_access_tokens):
//
//   svc  confidential (client_secret_basic), client_credentials, scope read
//   app  public native app, authorization_code with PKCE (required for
//        public clients), redirect http://127.0.0.1/callback (any port,
//        RFC 8252 §7.3); the dev interactions (any login and password)
//        sign the user in.
//
// Usage: node oidc-provider.mjs
// Prints {issuer, svc_secret} once listening on 127.0.0.1; stops when
// stdin closes.
import Provider from 'oidc-provider'
import { createServer } from 'node:http'
import { randomBytes } from 'node:crypto'

const server = createServer()
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const issuer = `http://127.0.0.1:${server.address().port}`
const svcSecret = randomBytes(24).toString('base64url')

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'svc',
      client_secret: svcSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: 'read',
      dpop_bound_access_tokens: true,
    },
    {
      client_id: 'app',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback'],
      scope: 'read',
      dpop_bound_access_tokens: true,
    },
  ],
  scopes: ['openid', 'read'],
  features: {
    clientCredentials: { enabled: true },
    dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
    devInteractions: { enabled: true },
    introspection: { enabled: true },
    // A resource indicator ending in /jwt gets an RFC 9068 JWT (RS256),
    // any other an opaque token, both with the resource as aud: Ward's
    // gateway checks the first with the provider's keys, the second by
    // introspection (test/interop TestGatewayForeignIssuerNodeOIDCProvider).
    resourceIndicators: {
      enabled: true,
      getResourceServerInfo: (ctx, resource) => ({
        scope: 'read',
        audience: resource,
        accessTokenFormat: resource.endsWith('/jwt') ? 'jwt' : 'opaque',
      }),
    },
  },
})
// Errors the server handles are logged for the test's failure output.
provider.on('server_error', (ctx, err) => console.error('server_error', err))
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message, err.error_description ?? ''))
provider.on('authorization.error', (ctx, err) => console.error('authorization.error', err.message, err.error_description ?? ''))
provider.on('pushed_authorization_request.error', (ctx, err) => console.error('par.error', err.message, err.error_description ?? ''))
server.on('request', provider.callback())

console.log(JSON.stringify({ issuer, svc_secret: svcSecret, version: (await import('oidc-provider/package.json', { with: { type: 'json' } })).default.version }))
process.stdin.on('end', () => process.exit(0)).resume()
