package authz

import (
	"errors"
	"net/http"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// unavailableRetryAfter is the Retry-After, in seconds, of a 503 answered
// because a backing service could not be reached.
const unavailableRetryAfter = 1

// asProtocolError is oauth.As, except that a server_error caused by a
// store that could not be reached (store.ErrUnavailable: the store's
// database down or cut off, or its deadline, store.timeout, passed while
// the database did not answer — the store decides, package sqlstore for
// PostgreSQL and SQLite, redisstore for Redis) becomes 503
// temporarily_unavailable (RFC 6749 §5.2) with Retry-After: the client may
// retry, nothing was issued. The cause stays in Err for the log.
func asProtocolError(err error) *oauth.Error {
	e := oauth.As(err)
	if e.Code != oauth.ServerError || !errors.Is(e.Err, store.ErrUnavailable) {
		return e
	}
	return &oauth.Error{Code: oauth.TemporarilyUnavailable, Status: http.StatusServiceUnavailable,
		Description: "the authorization server cannot reach its store; try again shortly", Reason: "store_unavailable",
		RetryAfter: unavailableRetryAfter, Err: e.Err}
}
