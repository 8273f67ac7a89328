// Package redisstore keeps single-use values in Redis (redis/go-redis v9),
// so that every instance of the gateway and the authorization server
// sharing one Redis refuses a value any of them has seen: a DPoP proof
// (RFC 9449 §11.1, [dpop.ReplayStore]) used at one gateway is refused at
// another, and so is a private_key_jwt assertion jti (RFC 7523 §3,
// [store.OneTime]).
//
// Each value is one key, SET key v NX with an expiry (PXAT for proofs, PX
// for one-time values) and a v unique to the call: the first SET wins,
// every later one finds the key holding another call's v and reports a
// replay, until Redis expires the key. A retry of the same call (go-redis
// resends a command whose answer timed out) finds its own v and is not a
// replay. Keys are the prefix, a kind, and a SHA-256 of the value, so
// their length is bounded.
//
// # Failure behaviour
//
// Timeouts are short (100 ms by default for dial, read and write), and
// each call is bounded by [Budget] (200 ms by default), so a dead Redis
// fails a request quickly instead of stalling it. By default
// the store fails closed: when Redis cannot be reached, Use and UseOnce
// return an error wrapping [ErrUnavailable], the DPoP verifier refuses the
// proof with reason replay_store_error, and the HTTP layers answer 503.
// Config.FailOpen selects a degraded mode instead: the failure is logged
// (slog, at most once a second) and counted ([Store.Stats]), and the value
// is accepted unchecked. While Redis is down, a replayed proof or assertion
// is then accepted: only use it where availability matters more than
// replay protection.
//
// # Redis Cluster and Sentinel
//
// [NewClient] builds the client for one server, a Sentinel-watched
// master (a failover client) or a Redis Cluster, with the same bounds;
// [NewFromClient] takes any of them. Every value is an independent key
// and each operation touches one key, so the store works unchanged on
// Cluster. Replication is asynchronous: when the master fails, writes it
// acknowledged but had not yet sent to the promoted replica are lost, and
// a proof recorded in that last moment can be replayed once until its
// expiry. [Config.MinReplicas] closes that window: each write waits
// (WAIT) for that many replicas and fails closed when fewer acknowledge
// ([ErrReplicas]), at a latency cost measured in docs/SCALEOUT.md. Redis
// persistence (AOF) has the same trade-off across a restart of a single
// server: with appendfsync everysec up to a second of records can be lost.
package redisstore
