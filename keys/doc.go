// Package keys manages the authorization server's signing keys: generation
// (ES256 on P-256 by default, or EdDSA on Ed25519; RS256 on demand), encryption of the
// private keys at rest, rotation with overlap, and the published JWKS.
//
// # Identifiers
//
// A key's kid is its RFC 7638 JWK thumbprint (SHA-256, base64url without
// padding), so the same key always has the same kid.
//
// # Encryption at rest
//
// Private keys are stored as PKCS #8 DER sealed with AES-256-GCM under a
// key-encryption key ([KEK]). The kid is the additional authenticated data,
// so a ciphertext copied into another key's row does not decrypt. The KEK
// comes from the WARD_KEY_ENCRYPTION_KEY environment variable (base64 of 32
// bytes) or a file ([LoadKEK]); [EnsureKEKFile] creates such a file with mode
// 0600 for development. Several KEKs may be given to [New]: the first seals
// new keys, all are tried when opening, which allows the KEK to be rotated.
// A wrong KEK yields an error wrapping [ErrDecrypt] that names the kid.
//
// # Timeline of a key
//
// A key is published in the JWKS from CreatedAt, signs from ActivatesAt,
// stops signing at RetiresAt and is removed from the JWKS at ExpiresAt:
//
//	CreatedAt ── PublishAhead ──▶ ActivatesAt ──── signs ────▶ RetiresAt ── MaxTokenLifetime ──▶ ExpiresAt
//	 (state next)                  (state current)              (state previous)                 (state expired, pruned)
//
// [Manager.Rotate] creates a key that activates PublishAhead later and
// schedules every older key to retire at that instant and expire
// MaxTokenLifetime after, so a token signed by the old key just before the
// switch still verifies against the JWKS until it expires.
//
// # A second chain for RS256
//
// Keys of the primary algorithm sign access tokens. OpenID Connect
// clients that register id_token_signed_response_alg RS256 need an RSA
// key: [Manager.EnsureKeyFor] makes the first RS256 key (RSA-2048) when it
// is first needed, [Manager.SignerFor] picks the current key of a chain,
// and from then on [Manager.Maintain] rotates the RS256 chain on the same
// schedule as the primary one. Each chain has its own current key;
// rotating one never retires the other's. [Manager.Signer] only ever
// returns a key of the primary algorithm.
//
// # Several instances
//
// Instances sharing one store agree without locks because the signing key
// is a pure function of the stored rows and the time: among keys with
// ActivatesAt ≤ now < RetiresAt (zero RetiresAt: not scheduled), the one
// with the latest ActivatesAt (ties broken by CreatedAt, then kid) signs.
// Every key is published from the moment it is stored, before it can
// sign. If two instances rotate at once, each stores a new key: both are
// published, the newest signs once active and the other merely retires
// unused — an extra published key, never a missing one. Instances must
// call [Manager.Refresh] (which [Manager.Maintain] does) much more often
// than PublishAhead, so that each sees a new key before it activates.
//
// # Hot path
//
// [Manager.Signer] reads an immutable in-memory snapshot through an
// atomic pointer: it neither touches the store nor allocates. Decrypted
// private keys are held only as [crypto.Signer], and [SigningKey.JOSE]
// wraps them in a go-jose OpaqueSigner, so a KMS-backed signer can replace
// them later.
package keys
