// Package multiinstance shows that several Ward instances behave as one.
// Each test starts two authorization servers and two gateways in-process
// on loopback listeners, wired as `ward serve` wires them with
// store.driver postgres and the redis section set: each instance has its
// own PostgreSQL pool on one shared schema, its own Redis client on one
// shared key prefix, and all share the key-encryption key, the flow key
// (WARD_FLOW_KEY) and the DPoP nonce secret. Clients reach the instances
// under one name per service, as behind a load balancer, and the test
// picks the instance of every request.
//
// The tests run against WARD_TEST_POSTGRES (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable; a fresh schema
// per test, dropped afterwards) and WARD_TEST_REDIS (default
// 127.0.0.1:6379; a key prefix per test, deleted afterwards). They skip
// when a server is unreachable, or fail when WARD_TEST_REQUIRE_SERVICES=1
// (as in .ci/run). docs/SCALEOUT.md lists what each test shows.
//
// The package has no non-test code.
package multiinstance
