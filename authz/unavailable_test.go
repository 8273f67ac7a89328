package authz

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

type sqlStateErr string

func (e sqlStateErr) Error() string    { return "pg: " + string(e) }
func (e sqlStateErr) SQLState() string { return string(e) }

// TestStoreUnreachableIs503: a server_error caused by a store that cannot
// be reached is answered 503 temporarily_unavailable (RFC 6749 §5.2) with
// Retry-After; every other server_error stays 500, and protocol errors are
// untouched. test/crash.TestPostgresUnreachable shows it through the binary.
func TestStoreUnreachableIs503(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, c := range []struct {
		name string
		err  error
		code string
	}{
		{"dial refused", oauth.Wrap(fmt.Errorf("sqlstore: get client: %w", dial), "cannot read the client"), oauth.TemporarilyUnavailable},
		{"connection lost mid-query", oauth.Wrap(fmt.Errorf("x: %w", io.ErrUnexpectedEOF), "x"), oauth.TemporarilyUnavailable},
		{"PostgreSQL connection exception 08006", oauth.Wrap(sqlStateErr("08006"), "x"), oauth.TemporarilyUnavailable},
		{"PostgreSQL shutting down 57P01", oauth.Wrap(sqlStateErr("57P01"), "x"), oauth.TemporarilyUnavailable},
		{"PostgreSQL unique violation 23505", oauth.Wrap(sqlStateErr("23505"), "x"), oauth.ServerError},
		{"other internal error", oauth.Wrap(errors.New("boom"), "x"), oauth.ServerError},
		{"bare error", errors.New("boom"), oauth.ServerError},
		{"protocol error with a network cause", &oauth.Error{Code: oauth.InvalidGrant, Status: 400, Err: dial}, oauth.InvalidGrant},
		{"not found is not unavailability", oauth.Wrap(store.ErrNotFound, "x"), oauth.ServerError},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := asProtocolError(c.err)
			if e.Code != c.code {
				t.Fatalf("code %q, want %q", e.Code, c.code)
			}
			if c.code == oauth.TemporarilyUnavailable && (e.Status != http.StatusServiceUnavailable || e.RetryAfter <= 0 || e.Err == nil) {
				t.Errorf("status %d, Retry-After %d, cause %v; want 503 with Retry-After and the cause kept", e.Status, e.RetryAfter, e.Err)
			}
		})
	}
}
