// The device authorization grant (RFC 8628) against a Ward issuer, done
// by openid-client as a public client with its own DPoP key: it asks for
// codes, prints them, and polls (its own authorization_pending and
// slow_down handling) with DPoP proofs until the person approves.
//
// Usage: node device-dpop.mjs ISSUER CLIENT_ID SCOPE
// Prints two JSON lines: {user_code, verification_uri_complete, interval},
// then {token_type, access_token, jkt}.
import * as openid from 'openid-client'
import { exportJWK, calculateJwkThumbprint } from 'jose'

const [issuerArg, clientId, scope] = process.argv.slice(2)
const config = await openid.discovery(new URL(issuerArg), clientId, undefined, openid.None(), { algorithm: 'oauth2', execute: [openid.allowInsecureRequests] })
const keyPair = await openid.randomDPoPKeyPair('ES256')
const DPoP = openid.getDPoPHandle(config, keyPair)
const da = await openid.initiateDeviceAuthorization(config, { scope })
console.log(JSON.stringify({ user_code: da.user_code, verification_uri_complete: da.verification_uri_complete, interval: da.interval }))
const tokens = await openid.pollDeviceAuthorizationGrant(config, da, undefined, { DPoP })
console.log(JSON.stringify({ token_type: tokens.token_type, access_token: tokens.access_token, jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)) }))
