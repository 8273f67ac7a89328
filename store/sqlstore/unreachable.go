package sqlstore

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unreachable reports whether err, from OpenPostgres or a store call,
// says that PostgreSQL could not be reached or is not ready yet (a dial
// error, a connection lost or timed out, a deadline, the server starting
// up, shutting down or out of connections; no primary among the DSN's
// hosts with target_session_attrs=read-write, or a write refused by a
// server that has become a standby), so that trying again later may
// succeed: after a failover, the next connection finds the new primary. A refused login, an unknown database, a TLS or DSN error
// or a failed migration is not: trying again cannot help.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08 (connection exception), 57P01-57P03 (shutting down,
		// starting up), 53300 (too many connections), 25006 (a write
		// sent to a standby: the connection is dropped, postgres.go's
		// dropReadOnly).
		c := pe.Code
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03" || c == "53300" ||
			c == pgReadOnlyTransaction
	}
	if errors.Is(err, pgconn.ErrReadOnlyConnection) || errors.Is(err, pgconn.ErrStandbyConnection) {
		// target_session_attrs found only standbys: mid-failover.
		return true
	}
	var ne net.Error
	// pgconn.ErrConnClosed: the connection was closed under the call (a
	// cut or cancelled one that database/sql handed out again).
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed)
}

// PostgresAddr is the host:port (several, comma-separated, with
// fallbacks) that dsn names, for log lines: never the DSN itself, which
// may hold a password.
func PostgresAddr(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	addrs := []string{net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))}
	for _, f := range cfg.Fallbacks {
		if a := net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port))); !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	return strings.Join(addrs, ",")
}
