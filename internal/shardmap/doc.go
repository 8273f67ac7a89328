// Package shardmap is a map split into shards, each under its own mutex and
// holding at most a fixed number of entries: the one shape of Ward's
// in-memory bounded stores (dpop's MemoryReplayStore, ratelimit's
// MemoryStore and Backoff).
//
// The map decides where a key lives and how many entries a shard may hold;
// what to do when a shard is full is the caller's policy, built from the
// shard's steps under its lock:
//
//   - refuse: check Full and answer an error (the replay store: forgetting
//     a jti could admit a replay);
//   - shed in arrival order: PutQueued records entries in a FIFO that Shed
//     drops from the front while they are expired (O(1) amortised when
//     expiries are nearly monotonic, as a replay window's are);
//   - sweep, then evict: Inserted counts new keys; MakeRoom, on a full
//     shard, sweeps it of dead entries at most once every PerShard/4
//     counted inserts and, if still full, evicts the least valuable of a
//     few sampled entries.
//
// Hashing is the caller's too: a key that is already a keyed hash (the
// replay store's) is not hashed again, and string keys are hashed with a
// secret maphash seed so that nobody can aim at one shard.
package shardmap
