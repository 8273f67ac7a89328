// Package attack runs Ward's attack catalogue from outside: it builds
// ./cmd/ward once, starts `ward serve --config` (authorization server and
// gateway in one process, TLS from a test CA, an upstream that counts its
// hits) and attacks it over real sockets. Each case asserts the exact
// refusal (status, error code and, at the gateway, the reason counted in
// ward_gateway_rejections_total) and that nothing was issued or forwarded.
// TestMTLSAttacks and TestDPoPNonceAttacks start a ward of their own (mTLS
// at both listeners; DPoP nonces required) through internal/wardtest.
// The rows of docs/SECURITY.md's "From outside" table name these tests.
package attack
