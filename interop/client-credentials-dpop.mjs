// Client credentials with DPoP against a Ward issuer, done by a real npm
// client: oauth4webapi (its DPoP handle, with the nonce retry written the
// way its documentation shows) or openid-client (which retries on
// use_dpop_nonce by itself).
//
// Usage: node client-credentials-dpop.mjs oauth4webapi|openid-client ISSUER CLIENT_ID CLIENT_SECRET SCOPE
// Prints one JSON line: {lib, token_type, access_token, jkt, nonce_retry}.
import * as oauth from 'oauth4webapi'
import * as openid from 'openid-client'
import { exportJWK, calculateJwkThumbprint } from 'jose'

const [lib, issuerArg, clientId, secret, scope] = process.argv.slice(2)
const issuer = new URL(issuerArg)
let out

if (lib === 'oauth4webapi') {
  const opts = { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, opts))
  const client = { client_id: clientId }
  const auth = oauth.ClientSecretBasic(secret)
  const keyPair = await oauth.generateKeyPair('ES256')
  const DPoP = oauth.DPoP(client, keyPair)
  const request = () => oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams({ scope }), { DPoP, [oauth.allowInsecureRequests]: true })
  let retried = false
  let result
  try {
    result = await oauth.processClientCredentialsResponse(as, client, await request())
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err
    retried = true // the handle has cached the server's DPoP-Nonce
    result = await oauth.processClientCredentialsResponse(as, client, await request())
  }
  out = { lib, token_type: result.token_type, access_token: result.access_token, jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)), nonce_retry: retried }
} else if (lib === 'openid-client') {
  const config = await openid.discovery(issuer, clientId, undefined, openid.ClientSecretBasic(secret), { algorithm: 'oauth2', execute: [openid.allowInsecureRequests] })
  const keyPair = await openid.randomDPoPKeyPair('ES256')
  const DPoP = openid.getDPoPHandle(config, keyPair)
  const result = await openid.clientCredentialsGrant(config, { scope }, { DPoP })
  out = { lib, token_type: result.token_type, access_token: result.access_token, jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)) }
} else {
  console.error('unknown library ' + lib)
  process.exit(2)
}
console.log(JSON.stringify(out))
