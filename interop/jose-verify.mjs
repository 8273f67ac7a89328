// Verifies DPoP proofs made by Ward with the npm package "jose" (panva):
// jwtVerify with the embedded JWK, typ dpop+jwt required, and the JWK
// thumbprint recomputed. Reads JSON lines {proof} on stdin; prints one JSON
// line per proof: {ok, alg, jkt, htm, htu, ath, error}.
import * as jose from 'jose'
import { createInterface } from 'node:readline'

const algorithms = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'RS256']
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue
  const { proof } = JSON.parse(line)
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt', algorithms })
    const jkt = await jose.calculateJwkThumbprint(protectedHeader.jwk, 'sha256')
    console.log(JSON.stringify({ ok: true, alg: protectedHeader.alg, jkt, htm: payload.htm, htu: payload.htu, ath: payload.ath, jti: payload.jti, iat: payload.iat }))
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: String(e && e.code || e) }))
  }
}
