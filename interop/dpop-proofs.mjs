// Makes DPoP proofs with the npm package "dpop" (panva), one per algorithm,
// for Ward's Go tests to verify. Usage: node dpop-proofs.mjs HTM HTU NONCE TOKEN
// Prints one JSON object per line: {alg, proof, jkt}.
import * as DPoP from 'dpop'

const [htm, htu, nonce, token] = process.argv.slice(2)
for (const alg of ['ES256', 'Ed25519', 'RS256', 'PS256']) {
  const keypair = await DPoP.generateKeyPair(alg)
  const proof = await DPoP.generateProof(keypair, htu, htm, nonce || undefined, token || undefined)
  const jkt = await DPoP.calculateThumbprint(keypair.publicKey)
  console.log(JSON.stringify({ alg, proof, jkt }))
}
