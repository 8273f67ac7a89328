// Authorization code with PKCE and DPoP against Ward, done by openid-client
// (v6, its own DPoP handle and use_dpop_nonce retries): discovery, the
// authorization URL, the code redeemed with a DPoP proof (openid-client
// checks state and iss, RFC 9207), refresh with rotation, a call to a
// protected resource through Ward's gateway (fetchProtectedResource with
// DPoP, nonce retry included), then the rotated refresh token presented
// again (reuse) and the newest one after that.
//
// With MODE par, the request is pushed (RFC 9126) with openid-client's
// DPoP proof and no dpop_jkt, so only the proof at PAR binds the code (RFC
// 9449 §10.1); the code is first presented with a proof of another key,
// which must be refused, then with the right one.
//
// Usage: node authcode-dpop.mjs ISSUER CLIENT_ID REDIRECT_URI SCOPE RESOURCE_URL [MODE]
//
// Protocol (JSON lines): the script prints {authorize, jkt}; the test, as
// the user's browser, logs in and writes the URL the server redirected to
// on stdin; the script prints {result} or {error, stage}.
import * as openid from 'openid-client'
import { exportJWK, calculateJwkThumbprint } from 'jose'
import { createInterface } from 'node:readline'

const [issuer, clientId, redirectUri, scope, resourceUrl, mode] = process.argv.slice(2)
const usePAR = mode === 'par'
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
const params = {
  redirect_uri: redirectUri,
  scope,
  code_challenge: await openid.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
}
let url
if (usePAR) {
  try {
    url = await openid.buildAuthorizationUrlWithPAR(config, params, { DPoP })
  } catch (err) {
    say({ error: describe(err), stage: 'par' })
    process.exit(0)
  }
} else {
  params.dpop_jkt = jkt // RFC 9449 §10: the code is bound to this key
  url = openid.buildAuthorizationUrl(config, params)
}
say({ authorize: url.href, jkt })

const { value: redirect } = await lines.next()
let tokens
let otherKey
if (usePAR) {
  // RFC 9449 §10.1: the proof at PAR bound the code; another key fails.
  const other = openid.getDPoPHandle(config, await openid.randomDPoPKeyPair('ES256'))
  try {
    await openid.authorizationCodeGrant(config, new URL(redirect),
      { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP: other })
    otherKey = { accepted: true }
  } catch (err) {
    otherKey = describe(err)
  }
}
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
    other_key: otherKey,
  },
})
