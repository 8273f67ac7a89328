// Package ratelimit limits request rates with GCRA (the generic cell rate
// algorithm), which has no window boundary at which a client can send two
// windows' worth of requests: each key has a theoretical arrival time
// (TAT), one emission interval (Period/Rate) later for each request
// allowed, and a request is refused when it would put the TAT more than
// Burst intervals ahead of now.
//
// The state lives in a Store: MemoryStore (one process, bounded memory)
// or RedisStore (shared by instances, one atomic script per decision).
// Both pass the same conformance suite. The clock is the caller's, so
// tests inject it and never sleep.
//
// A Result carries what the RateLimit and RateLimit-Policy headers of
// draft-ietf-httpapi-ratelimit-headers and Retry-After need; SetHeaders
// and Headers write them.
//
// ClientIP derives the client's address, believing X-Forwarded-For only
// from trusted proxies; Backoff tracks failures (failed logins) with
// growing, capped, expiring delays.
package ratelimit
