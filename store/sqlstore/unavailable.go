package sqlstore

import (
	"database/sql/driver"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/wardauth/ward/store"
)

// unavailable returns err wrapped with store.ErrUnavailable, the cause
// kept, when it says the database could not answer now: PostgreSQL
// unreachable, cut off or not ready, or the store's deadline passed
// (Unreachable); a connection database/sql found bad; SQLite busy or
// locked past busy_timeout. Any other error, and nil, is returned as is.
// It is applied where sqlstore hands work to database/sql (deadline.go's
// db, row and rows, and Store.tx), so every store call reports an outage
// the same way.
func unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if Unreachable(err) || errors.Is(err, driver.ErrBadConn) || sqliteBusy(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// sqliteBusy reports whether err is SQLite's SQLITE_BUSY or SQLITE_LOCKED
// (any extended code): another connection held the lock past busy_timeout.
func sqliteBusy(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}
