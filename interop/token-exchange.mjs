// Token exchange (RFC 8693) against a Ward issuer, done by openid-client.
// A front-end client (client_secret_post) gets a DPoP-bound access token
// for the exchanger's API with its own DPoP key: the subject token. The
// exchanger, authenticated with private_key_jwt (its key in EXCHANGER_JWK)
// and proving its own DPoP key, exchanges it with genericGrantRequest,
// then asks again for a scope the subject token does not hold.
//
// Usage: node token-exchange.mjs ISSUER FRONT_ID FRONT_SECRET EXCHANGER_ID SUBJECT_RESOURCE TARGET_RESOURCE
// Prints one JSON line: {subject, subject_jkt, exchanger_jkt, exchanged:
// {access_token, token_type, issued_token_type, has_refresh_token}, widen:
// {error, status}}.
import * as openid from 'openid-client'
import { importJWK, exportJWK, calculateJwkThumbprint } from 'jose'

const [issuer, frontId, frontSecret, exchangerId, subjectResource, target] = process.argv.slice(2)
const opts = { algorithm: 'oauth2', execute: [openid.allowInsecureRequests] }
const thumb = async (kp) => calculateJwkThumbprint(await exportJWK(kp.publicKey))

const front = await openid.discovery(new URL(issuer), frontId, undefined, openid.ClientSecretPost(frontSecret), opts)
const frontKey = await openid.randomDPoPKeyPair('ES256')
const subject = await openid.clientCredentialsGrant(front, { scope: 'read', resource: subjectResource },
  { DPoP: openid.getDPoPHandle(front, frontKey) })

const jwk = JSON.parse(process.env.EXCHANGER_JWK)
const auth = openid.PrivateKeyJwt({ key: await importJWK(jwk, 'ES256'), kid: jwk.kid })
const exchanger = await openid.discovery(new URL(issuer), exchangerId, undefined, auth, opts)
const exKey = await openid.randomDPoPKeyPair('ES256')
const DPoP = openid.getDPoPHandle(exchanger, exKey)
const grant = 'urn:ietf:params:oauth:grant-type:token-exchange'
const params = (scope) => ({
  subject_token: subject.access_token,
  subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  resource: target,
  scope,
})
const exchanged = await openid.genericGrantRequest(exchanger, grant, params('read'), { DPoP })
let widen
try {
  await openid.genericGrantRequest(exchanger, grant, params('read write'), { DPoP })
  widen = { accepted: true }
} catch (err) {
  widen = { error: err.error, status: err.status ?? err.response?.status, name: err.name, message: err.message }
}
console.log(JSON.stringify({
  subject: subject.access_token,
  subject_jkt: await thumb(frontKey),
  exchanger_jkt: await thumb(exKey),
  exchanged: {
    access_token: exchanged.access_token, token_type: exchanged.token_type,
    issued_token_type: exchanged.issued_token_type, has_refresh_token: exchanged.refresh_token !== undefined,
  },
  widen,
}))
