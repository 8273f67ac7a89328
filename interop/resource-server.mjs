// A resource server built on oauth4webapi's validateJwtAccessToken (RFC
// 9068 JWT access tokens, RFC 9449 DPoP proofs with requireDPoP), for
// Ward's tokens: it discovers the issuer, and for each request checks the
// token (signature from the issuer's JWKS, typ at+jwt, iss, aud, exp,
// cnf.jkt) and the proof (signature, typ, htm, htu, ath, iat, jwk
// thumbprint = cnf.jkt). What oauth4webapi leaves to the application is
// done here: a proof's jti is accepted once (RFC 9449 §11.1), and the
// server demands its own DPoP nonce (RFC 9449 §9), so a client must handle
// use_dpop_nonce from a resource server.
//
// Usage: node resource-server.mjs ISSUER AUDIENCE
// Prints {url, nonce} once listening on 127.0.0.1; answers 200 with the
// token's claims, or 401 with a DPoP challenge and {error, message, cause}.
import * as oauth from 'oauth4webapi'
import { decodeJwt } from 'jose'
import { createServer } from 'node:http'
import { randomBytes } from 'node:crypto'

const [issuerArg, audience] = process.argv.slice(2)
const issuer = new URL(issuerArg)
const as = await oauth.processDiscoveryResponse(issuer,
  await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }))
const nonce = randomBytes(16).toString('base64url')
const seen = new Set()

const server = createServer(async (req, res) => {
  const reply = (status, body, challenge) => {
    const headers = { 'content-type': 'application/json', 'dpop-nonce': nonce }
    if (challenge) headers['www-authenticate'] = challenge
    res.writeHead(status, headers)
    res.end(JSON.stringify(body))
  }
  const request = new Request(new URL(req.url, base), { method: req.method, headers: req.headers })
  let claims
  try {
    claims = await oauth.validateJwtAccessToken(as, request, audience, {
      requireDPoP: true,
      signingAlgorithms: ['ES256', 'EdDSA'],
      [oauth.allowInsecureRequests]: true,
    })
  } catch (err) {
    return reply(401, {
      error: 'invalid_token', code: err.code, message: err.message,
      cause: err.cause instanceof Error ? err.cause.message : undefined,
    }, 'DPoP error="invalid_token", algs="ES256 EdDSA"')
  }
  // The proof is valid (oauth4webapi checked its signature): now what the
  // application must do itself.
  const proof = decodeJwt(request.headers.get('dpop'))
  if (seen.has(proof.jti)) {
    return reply(401, { error: 'invalid_dpop_proof', message: 'replayed proof (jti seen before)' },
      'DPoP error="invalid_dpop_proof", algs="ES256 EdDSA"')
  }
  seen.add(proof.jti)
  if (proof.nonce !== nonce) {
    return reply(401, { error: 'use_dpop_nonce', message: 'a DPoP nonce is required' },
      'DPoP error="use_dpop_nonce", algs="ES256 EdDSA"')
  }
  reply(200, { sub: claims.sub, client_id: claims.client_id, scope: claims.scope, jkt: claims.cnf.jkt, path: request.url })
})
let base
server.listen(0, '127.0.0.1', () => {
  base = `http://127.0.0.1:${server.address().port}`
  console.log(JSON.stringify({ url: base, nonce }))
})
// The test closes stdin when it is done.
process.stdin.on('end', () => process.exit(0)).resume()
