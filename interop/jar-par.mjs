// A signed request object (RFC 9101) pushed to Ward's PAR endpoint by
// openid-client (v6) as a private_key_jwt client: the request object is
// made by buildAuthorizationUrlWithJAR (typ oauth-authz-req+jwt, iss,
// aud, exp, nbf, jti) and pushed with buildAuthorizationUrlWithPAR and a
// DPoP proof; the code is redeemed with DPoP. Before that, the same
// request pushed without a request object (the client must sign its
// requests) and the same request object pushed twice (jti replay) must be
// refused.
//
// Usage: node jar-par.mjs ISSUER CLIENT_ID REDIRECT_URI SCOPE PRIVATE_JWK
//
// Protocol (JSON lines): the script prints {authorize, jkt, plain, replay};
// the test, as the user's browser, logs in and writes the URL the server
// redirected to on stdin; the script prints {result} or {error, stage}.
import * as openid from 'openid-client'
import { importJWK, exportJWK, calculateJwkThumbprint } from 'jose'
import { createInterface } from 'node:readline'

const [issuer, clientId, redirectUri, scope, privateJWK] = process.argv.slice(2)
const say = (o) => console.log(JSON.stringify(o))
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const describe = (err) => ({
  name: err.name, code: err.code, message: err.message,
  cause: err.cause instanceof Error ? err.cause.message : undefined,
  error: err.error, error_description: err.error_description, status: err.status,
})
const attempt = async (f) => {
  try {
    await f()
    return { accepted: true }
  } catch (err) {
    return describe(err)
  }
}

const jwk = JSON.parse(privateJWK)
const key = { key: await importJWK(jwk, 'ES256'), kid: jwk.kid }
const config = await openid.discovery(new URL(issuer), clientId, undefined, openid.PrivateKeyJwt(key), {
  algorithm: 'oauth2', execute: [openid.allowInsecureRequests],
})
const keyPair = await openid.randomDPoPKeyPair('ES256')
const DPoP = openid.getDPoPHandle(config, keyPair)
const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey))

const verifier = openid.randomPKCECodeVerifier()
const state = openid.randomState()
const params = {
  redirect_uri: redirectUri,
  scope,
  code_challenge: await openid.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
}
const plain = await attempt(() => openid.buildAuthorizationUrlWithPAR(config, params, { DPoP }))
let url, replay
try {
  const jar = await openid.buildAuthorizationUrlWithJAR(config, params, key)
  url = await openid.buildAuthorizationUrlWithPAR(config, jar.searchParams, { DPoP })
  // The same request object again: its jti was used.
  replay = await attempt(() => openid.buildAuthorizationUrlWithPAR(config, jar.searchParams, { DPoP }))
} catch (err) {
  say({ error: describe(err), stage: 'par' })
  process.exit(0)
}
say({ authorize: url.href, jkt, plain, replay })

const { value: redirect } = await lines.next()
let tokens
try {
  tokens = await openid.authorizationCodeGrant(config, new URL(redirect),
    { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP })
} catch (err) {
  say({ error: describe(err), stage: 'code' })
  process.exit(0)
}
say({ result: { token_type: tokens.token_type, access_token: tokens.access_token, scope: tokens.scope } })
