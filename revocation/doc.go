// Package revocation carries the authorization server's revocations to
// the gateways that check its JWT access tokens, so a revoked token, or
// any token of a revoked grant, is refused within seconds instead of
// working until it expires.
//
// The authorization server's store is the source of truth
// (store.RevocationLog): access tokens revoked at /revoke by their jti,
// and grants (token families) revoked by refresh-token reuse, code
// replay, logout, consent withdrawal or a client's revocation of its
// refresh token. A [Source] pages through that log from a cursor: [Store]
// reads it in process, [HTTP] from the authorization server's
// /revocations endpoint. A [Follower] polls a Source into a [Set], which
// the gateway asks on every request (resource.Config.Revocations): two
// map lookups under a read lock, no allocation. [Watch] wraps the
// authorization server's store to signal each committed revocation, so a
// Follower woken through [Wakeups] (in process, or by Redis pub/sub
// between processes) polls at once instead of at its next tick.
//
// Everything is bounded: entries leave the Set when the tokens they
// refuse have expired (a grant's at most config.MaxAccessTokenTTL after
// its revocation), and a Set that is full refuses every token issued
// before the revocation it could not hold (fail closed for the affected
// tokens only) until those tokens have expired. A Set that has not heard
// from its Source for longer than its staleness bound reports so, and
// refuses every token unless told to serve.
package revocation
