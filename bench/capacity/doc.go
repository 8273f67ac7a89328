// Package capacity measures what one request costs Ward and the shared
// services, for docs/CAPACITY.md. TestPerRequestCosts starts `ward serve`
// (authorization server and gateway) on PostgreSQL (WARD_TEST_POSTGRES)
// and a redis-server of its own, each reached through a counting proxy
// of the test's own that parses the
// client's side of the wire protocol: RESP commands (by name) and bytes
// both ways for Redis; statements (reads, writes, transaction control,
// by text) executed through the extended or simple query protocol for
// PostgreSQL. It then sends batches of one kind of request (client
// credentials tokens, gateway calls on an unlimited and on a
// rate-limited route, authorization-code grants, refresh-token
// rotations), subtracts the background traffic measured over an idle
// stretch of the same length, and logs the per-request figures, with the
// CPU time the ward and redis-server processes spent (/proc) as ratios
// to a bare P-256 verify timed in the same run. It also reads MEMORY
// USAGE of a DPoP replay key and a rate-limit key, and INFO
// commandstats.
// It asserts the figures the capacity model relies on (a gateway call
// makes one Redis command and no PostgreSQL statement; a rotation a
// bounded number of writes), so a change that makes requests dearer
// fails here and the document is brought up to date.
//
// Requests are sent one at a time by one client, so CPU per request
// includes what a loaded server shares across requests (wake-ups, GC
// cycles): read it as an upper bound next to the load tests'.
//
// It skips when PostgreSQL or redis-server is missing (fails under
// WARD_TEST_REQUIRE_SERVICES=1), and under -short.
//
// The package has no non-test code.
package capacity
