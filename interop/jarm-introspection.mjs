// FAPI 2.0 Message Signing against Ward, done by openid-client (v6):
// a JARM authorization response (useJwtResponseMode: response_mode=jwt,
// the response JWT's signature checked with the issuer's jwks_uri, then
// its iss, aud, exp and state), the code redeemed with DPoP; then an RFC
// 9701 JWT introspection of the access token by a confidential resource
// server that registered introspection_signed_response_alg (Accept:
// application/token-introspection+jwt; typ, iss, aud and iat checked, and
// the signature with enableNonRepudiationChecks).
//
// Usage: node jarm-introspection.mjs ISSUER CLIENT_ID REDIRECT_URI SCOPE RS_CLIENT_ID RS_SECRET
//
// Protocol (JSON lines): the script prints {authorize}; the test, as the
// user's browser, logs in and writes the URL the server redirected to on
// stdin; the script prints {result} or {error, stage}.
import * as openid from 'openid-client'
import { createInterface } from 'node:readline'

const [issuer, clientId, redirectUri, scope, rsId, rsSecret] = process.argv.slice(2)
const say = (o) => console.log(JSON.stringify(o))
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const describe = (err) => ({
  name: err.name, code: err.code, message: err.message,
  cause: err.cause instanceof Error ? err.cause.message : undefined,
  error: err.error, error_description: err.error_description, status: err.status,
})
const opts = { algorithm: 'oauth2', execute: [openid.allowInsecureRequests] }

const config = await openid.discovery(new URL(issuer), clientId, undefined, openid.None(), opts)
openid.useJwtResponseMode(config)
const DPoP = openid.getDPoPHandle(config, await openid.randomDPoPKeyPair('ES256'))
const verifier = openid.randomPKCECodeVerifier()
const state = openid.randomState()
const url = openid.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope,
  code_challenge: await openid.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
})
say({ authorize: url.href })

const { value: redirect } = await lines.next()
let tokens
try {
  tokens = await openid.authorizationCodeGrant(config, new URL(redirect),
    { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP })
} catch (err) {
  say({ error: describe(err), stage: 'code' })
  process.exit(0)
}

const rs = await openid.discovery(new URL(issuer), rsId, { introspection_signed_response_alg: 'ES256' },
  openid.ClientSecretBasic(rsSecret), opts)
openid.enableNonRepudiationChecks(rs)
let introspection
try {
  introspection = await openid.tokenIntrospection(rs, tokens.access_token)
} catch (err) {
  say({ error: describe(err), stage: 'introspection' })
  process.exit(0)
}
say({ result: { access_token: tokens.access_token, introspection } })
