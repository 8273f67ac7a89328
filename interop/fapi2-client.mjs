// FAPI 2.0 Security Profile against Ward, done by openid-client (v6):
// private_key_jwt client authentication (its assertion's aud is the
// issuer, as a string), a pushed authorization request carrying a DPoP
// proof (RFC 9126, RFC 9449 §10.1), the code redeemed with DPoP (state and
// iss checked, RFC 9207), then a refresh, which under the profile returns
// no new refresh token (no rotation), and a second refresh with the same
// token.
//
// With MODE public the client is public (auth none): the profile refuses
// it at the PAR endpoint, and the script reports the error.
//
// Usage: node fapi2-client.mjs ISSUER CLIENT_ID REDIRECT_URI SCOPE pkjwt|public
// The private key (a JWK) is in the environment variable FAPI_CLIENT_JWK;
// the issuer's TLS certificate is trusted through NODE_EXTRA_CA_CERTS.
//
// Protocol (JSON lines): the script prints {authorize}; the test, as the
// user's browser, logs in and writes the URL the server redirected to on
// stdin; the script prints {result} or {error, stage}.
import * as openid from 'openid-client'
import { importJWK } from 'jose'
import { createInterface } from 'node:readline'

const [issuer, clientId, redirectUri, scope, mode] = process.argv.slice(2)
const say = (o) => console.log(JSON.stringify(o))
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
// A 401 with WWW-Authenticate is a WWWAuthenticateChallengeError whose
// cause lists the challenges: their error is the OAuth error code.
const challenge = (err) => (Array.isArray(err.cause) ? err.cause[0]?.parameters ?? {} : {})
const describe = (err) => ({
  name: err.name, code: err.code, message: err.message,
  cause: err.cause instanceof Error ? err.cause.message : undefined,
  error: err.error ?? challenge(err).error,
  error_description: err.error_description ?? challenge(err).error_description,
  status: err.status ?? err.response?.status,
})

let auth = openid.None()
if (mode === 'pkjwt') {
  const jwk = JSON.parse(process.env.FAPI_CLIENT_JWK)
  auth = openid.PrivateKeyJwt({ key: await importJWK(jwk, 'ES256'), kid: jwk.kid })
}
const config = await openid.discovery(new URL(issuer), clientId, undefined, auth, { algorithm: 'oauth2' })
const DPoP = openid.getDPoPHandle(config, await openid.randomDPoPKeyPair('ES256'))
const verifier = openid.randomPKCECodeVerifier()
const state = openid.randomState()
let url
try {
  url = await openid.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await openid.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  }, { DPoP })
} catch (err) {
  const e = describe(err)
  if (!e.error && err.response) {
    // The challenge (Basic realm) carries no error: the body does.
    const body = await err.response.json().catch(() => ({}))
    e.error = body.error
    e.error_description = body.error_description
  }
  say({ error: e, stage: 'par' })
  process.exit(0)
}
say({ authorize: url.href })

const { value: redirect } = await lines.next()
const stage = { name: 'code' }
try {
  const tokens = await openid.authorizationCodeGrant(config, new URL(redirect),
    { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP })
  stage.name = 'refresh'
  const refreshed = await openid.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP })
  stage.name = 'refresh again'
  const again = await openid.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP })
  say({
    result: {
      token_type: tokens.token_type,
      access_token: tokens.access_token,
      has_refresh_token: Boolean(tokens.refresh_token),
      refreshed_token_type: refreshed.token_type,
      refreshed_refresh_token: refreshed.refresh_token ?? '',
      again_access_token: again.access_token,
    },
  })
} catch (err) {
  say({ error: describe(err), stage: stage.name })
}
