package authz

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/wardauth/ward/oauth"
)

// unavailableRetryAfter is the Retry-After, in seconds, of a 503 answered
// because a backing service could not be reached.
const unavailableRetryAfter = 1

// asProtocolError is oauth.As, except that a server_error caused by a
// backing service that could not be reached (the store's database down or
// cut off: a dial error, a connection lost mid-query, a PostgreSQL
// connection-exception SQLSTATE, or the store's deadline, store.timeout,
// passed while the database did not answer) becomes 503
// temporarily_unavailable (RFC 6749 §5.2) with Retry-After: the client may
// retry, nothing was issued. The cause stays in Err for the log.
func asProtocolError(err error) *oauth.Error {
	e := oauth.As(err)
	if e.Code != oauth.ServerError || !unreachable(e.Err) {
		return e
	}
	return &oauth.Error{Code: oauth.TemporarilyUnavailable, Status: http.StatusServiceUnavailable,
		Description: "the authorization server cannot reach its store; try again shortly", Reason: "store_unavailable",
		RetryAfter: unavailableRetryAfter, Err: e.Err}
}

// unreachable reports whether err says a backing service could not be
// reached, rather than that it refused or failed a request.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	// context.DeadlineExceeded: the store gave up at its deadline (a
	// partition answers nothing, so this is how it shows).
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	// PostgreSQL: class 08 (connection exception), 57P01-57P03 (the
	// server is shutting down or starting). pgconn.PgError has SQLState.
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		c := st.SQLState()
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03"
	}
	return false
}
