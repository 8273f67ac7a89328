// Package redistest starts real Redis deployments for tests on free
// loopback ports: a Redis Cluster (three masters with a replica each) and
// a Sentinel group (a master, two replicas, three sentinels), from the
// redis-server and redis-sentinel binaries. Where they are absent the
// test skips, or fails with WARD_TEST_REQUIRE_REDIS_HA=1
// (EnvRequire). Every process is killed at the test's cleanup.
package redistest
