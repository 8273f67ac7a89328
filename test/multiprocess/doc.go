// Package multiprocess shows that several `ward serve` processes behave as
// one. TestProcesses builds ./cmd/ward, starts two authorization-server
// processes and two gateway-only processes (authorization_server.enabled:
// false) on loopback, each from a configuration file of its own, sharing
// one PostgreSQL schema and one Redis, with the same key-encryption key,
// flow key and DPoP nonce secret in their environment. In front of each
// service the test runs a TLS-terminating load balancer (the processes set
// behind_tls_proxy), which sends each request to the process the test
// names. The gateways fetch the issuer's keys through it.
//
// The Redis is a private redis-server the test starts on a free port, so
// that it can stop it and start it again. PostgreSQL is WARD_TEST_POSTGRES
// (default postgres://postgres@127.0.0.1:5432/test?sslmode=disable; a
// fresh schema per run, dropped afterwards). The test skips when either is
// missing, or fails when WARD_TEST_REQUIRE_SERVICES=1 (as in .ci/run), and
// skips under -short. docs/DEPLOYMENT.md describes the deployment it
// mirrors.
//
// The package has no non-test code.
package multiprocess
