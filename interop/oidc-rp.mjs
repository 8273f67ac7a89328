// OpenID Connect relying party against Ward, done by openid-client (v6)
// in its OIDC mode: discovery at /.well-known/openid-configuration,
// authorization code + PKCE + DPoP (dpop_jkt) with a nonce, the ID token
// validated by the library (signature from the JWKS through
// enableNonRepudiationChecks; iss, aud, azp, exp, iat, nonce, auth_time
// against maxAge), at_hash checked here (openid-client 6.8.9 checks
// c_hash and s_hash of hybrid responses only), UserInfo with DPoP and the
// sub check, and the RP-initiated logout URL.
//
// Usage: node oidc-rp.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI
//
// Protocol (JSON lines): the test writes commands, the script answers
// each with one line.
//   {"cmd":"authorize","params":{...}}      -> {"authorize": url}
//   {"cmd":"callback","url":u,"max_age":n}  -> {"result": {...}} | {"error": {...}}
//   {"cmd":"userinfo"}                      -> {"userinfo": {...}} | {"error": {...}}
//   {"cmd":"logout","params":{...}}         -> {"end_session": url}
import * as openid from 'openid-client'
import { createHash } from 'node:crypto'
import { createInterface } from 'node:readline'

const [issuer, clientId, clientSecret, redirectUri] = process.argv.slice(2)
const say = (o) => console.log(JSON.stringify(o))
const describe = (err) => ({
  name: err.name, code: err.code, message: err.message,
  cause: err.cause instanceof Error ? err.cause.message : undefined,
  error: err.error, error_description: err.error_description, status: err.status ?? err.cause?.status,
})

// OIDC mode: the OpenID Connect discovery document, checked by the
// library (issuer identical).
const config = await openid.discovery(new URL(issuer), clientId, clientSecret, openid.ClientSecretBasic(clientSecret), {
  execute: [openid.allowInsecureRequests],
})
// The ID token's signature checked against the issuer's jwks_uri.
openid.enableNonRepudiationChecks(config)
const keyPair = await openid.randomDPoPKeyPair('ES256')
const DPoP = openid.getDPoPHandle(config, keyPair)
const { calculateJwkThumbprint, exportJWK } = await import('jose')
const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey))

let pending // the checks of the request in flight
let tokens, claims

const atHash = (token) => createHash('sha256').update(token).digest().subarray(0, 16).toString('base64url')

for await (const line of createInterface({ input: process.stdin })) {
  const m = JSON.parse(line)
  try {
    switch (m.cmd) {
      case 'authorize': {
        const verifier = openid.randomPKCECodeVerifier()
        pending = { verifier, state: openid.randomState(), nonce: openid.randomNonce() }
        const url = openid.buildAuthorizationUrl(config, {
          redirect_uri: redirectUri, scope: 'openid profile email',
          code_challenge: await openid.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
          state: pending.state, nonce: pending.nonce, dpop_jkt: jkt, ...m.params,
        })
        say({ authorize: url.href, nonce: pending.nonce, state: pending.state })
        break
      }
      case 'callback': {
        const checks = { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true }
        if (typeof m.max_age === 'number') checks.maxAge = m.max_age
        tokens = await openid.authorizationCodeGrant(config, new URL(m.url), checks, undefined, { DPoP })
        claims = tokens.claims()
        say({
          result: {
            token_type: tokens.token_type, id_token: tokens.id_token, claims,
            at_hash_ok: typeof claims.at_hash === 'string' && claims.at_hash === atHash(tokens.access_token),
            sent_nonce: pending.nonce,
          },
        })
        break
      }
      case 'userinfo': {
        const info = await openid.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP })
        say({ userinfo: info })
        break
      }
      case 'logout': {
        say({ end_session: openid.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, ...m.params }).href })
        break
      }
      default:
        say({ error: { message: 'unknown command ' + m.cmd } })
    }
  } catch (err) {
    say({ error: describe(err) })
  }
}
