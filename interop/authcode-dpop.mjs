// Authorization code with PKCE and DPoP against Ward, done by openid-client
// (v6, its own DPoP handle and use_dpop_nonce retries): discovery, the
// authorization URL, the code redeemed with a DPoP proof (openid-client
// checks state and iss, RFC 9207), refresh with rotation, a call to a
// protected resource through Ward's gateway (fetchProtectedResource with
// DPoP, nonce retry included), then the rotated refresh token presented
// again (reuse) and the newest one after that.
//
// Usage: node authcode-dpop.mjs ISSUER CLIENT_ID REDIRECT_URI SCOPE RESOURCE_URL
//
// Protocol (JSON lines): the script prints {authorize, jkt}; the test, as
// the user's browser, logs in and writes the URL the server redirected to
// on stdin; the script prints {result} or {error, stage}.
import * as openid from 'openid-client'
import { exportJWK, calculateJwkThumbprint } from 'jose'
import { createInterface } from 'node:readline'

const [issuer, clientId, redirectUri, scope, resourceUrl] = process.argv.slice(2)
const say = (o) => console.log(JSON.stringify(o))
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const describe = (err) => ({
  name: err.name, code: err.code, message: err.message,
  cause: err.cause instanceof Error ? err.cause.message : undefined,
  error: err.error, error_description: err.error_description, status: err.status,
})

const config = await openid.discovery(new URL(issuer), clientId, undefined, openid.None(), {
  algorithm: 'oauth2', execute: [openid.allowInsecureRequests],
})
const keyPair = await openid.randomDPoPKeyPair('ES256')
const DPoP = openid.getDPoPHandle(config, keyPair)
const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey))

const verifier = openid.randomPKCECodeVerifier()
const state = openid.randomState()
const url = openid.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope,
  code_challenge: await openid.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  dpop_jkt: jkt, // RFC 9449 §10: the code is bound to this key
})
say({ authorize: url.href, jkt })

const { value: redirect } = await lines.next()
let tokens
try {
  tokens = await openid.authorizationCodeGrant(config, new URL(redirect),
    { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP })
} catch (err) {
  say({ error: describe(err), stage: 'code' })
  process.exit(0)
}

let refreshed, resp, whoami
try {
  refreshed = await openid.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP })
} catch (err) {
  say({ error: describe(err), stage: 'refresh' })
  process.exit(0)
}
try {
  resp = await openid.fetchProtectedResource(config, refreshed.access_token, new URL(resourceUrl), 'GET', null, undefined, { DPoP })
  whoami = await resp.json()
} catch (err) {
  say({ error: describe(err), stage: 'resource' })
  process.exit(0)
}

// RFC 9700 §4.14.2: the rotated token must be refused, and its reuse
// revokes the grant, so the newest token must be refused too.
const attempt = async (rt) => {
  try {
    await openid.refreshTokenGrant(config, rt, undefined, { DPoP })
    return { accepted: true }
  } catch (err) {
    return describe(err)
  }
}
const reuse = await attempt(tokens.refresh_token)
const afterReuse = await attempt(refreshed.refresh_token)

say({
  result: {
    token_type: tokens.token_type,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    refreshed_token_type: refreshed.token_type,
    refreshed_access_token: refreshed.access_token,
    refreshed_refresh_token: refreshed.refresh_token,
    resource_status: resp.status,
    whoami,
    reuse,
    after_reuse: afterReuse,
  },
})
