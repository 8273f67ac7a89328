// Package crash shows that a `ward serve` process killed with SIGKILL in
// the middle of a load loses nothing a client was told and lets no refresh
// token be used twice. TestKillDuringLoad builds ./cmd/ward, starts it from
// a configuration file (TLS on loopback with a test CA, one confidential
// client with client_credentials, one public client with
// authorization_code and refresh_token, one user), obtains one DPoP-bound
// grant (refresh-token family) per worker through the login flow, and runs
// concurrent workers: each refresh worker rotates its own family's refresh
// token in a loop, each service worker asks for client-credentials tokens,
// and every response is recorded. The process is then killed with SIGKILL
// mid-load and started again on the same database, and the test checks:
//
//   - the last refresh token each family's client received still works
//     (when a request with it was in flight at the kill and rotated it, the
//     client's retry with the same DPoP key is within
//     tokens.refresh_token_reuse_grace and gets a new pair), or, only when
//     a request with it was in flight at the kill, the family is revoked; a
//     token received in a 200 is never simply lost;
//   - no refresh token can be used twice: presenting an already-rotated
//     token whose successor was used is refused and revokes the family,
//     whose newest token then stops working too; every earlier token is
//     refused;
//   - every access token whose response reached a client verifies against
//     the restarted server's JWKS (the signing key survived);
//   - the database is consistent: the store opens, `ward keys list` works,
//     no family has two unrotated refresh tokens, a family the test saw
//     revoked is revoked in the database.
//
// It runs on SQLite (a file under the test's temporary directory) and on
// PostgreSQL (WARD_TEST_POSTGRES, default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable, a fresh schema
// per run, dropped afterwards). The PostgreSQL subtest skips when the
// database is unreachable, or fails under WARD_TEST_REQUIRE_SERVICES=1.
// The whole test skips under -short.
//
// TestPostgresUnreachable shows graceful degradation: `ward serve` on
// PostgreSQL through a TCP proxy of the test's own (the machine's
// PostgreSQL keeps running), the proxy cut and restored. While it is cut,
// the token endpoint answers 503 temporarily_unavailable (never 500, never
// a token) and the gateway forwards only what it verified; afterwards
// service resumes without a restart.
//
// The package has no non-test code.
package crash
