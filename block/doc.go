// Package block is Ward's blocking response (docs/EVENTS.md, "Blocking"):
// an address or a DPoP key that sends invalid credentials again and again
// within a window — forged signatures, malformed proofs or tokens, tokens
// presented with the wrong key — is refused with 429 for a period that
// doubles on each repeat offence up to a cap, and expires on its own.
//
// A [Store] keeps the strikes and blocks: [MemoryStore] in one process
// (bounded, sharded), [RedisStore] shared by every instance. A
// [Blocker] applies the configured [Policy] per [Kind], the allow-list,
// the security events (address_blocked, key_blocked, block_lifted) and the
// metrics; the gateway, /token and /par ask it first and tell it of each
// refusal. [Offence] says which refusals count: never one a legitimate
// client produces by accident (a nonce round trip, a skewed clock, the same
// proof sent again after a network error).
//
// An admin sees and lifts blocks through [Admin] (List and Lift), which
// both stores and the Blocker implement.
package block
